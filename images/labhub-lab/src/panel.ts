// The assignments panel in the left sidebar: your courses and their assignments (state, deadline, your
// versions, score and feedback once released; instructors: how many students submitted), with Fetch
// (then the starter notebook opens) and "Submit open notebook" (saved first; the receipt shows here).
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { assignmentsApi as api } from './api';
import {
  Assignment,
  CourseRef,
  Feedback,
  Submission,
  assignmentState,
  countsLine,
  countsOf,
  feedbackLines,
  fetchLine,
  localTime,
  notebookToOpen,
  receiptLines,
  submittablePath,
  versionsLine
} from './assignments';

export const PANEL_ID = 'labhub-lab-assignments';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" ' +
  'd="M6 3h3a3 3 0 0 1 6 0h3a1 1 0 0 1 1 1v16a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1zm1 2v14h10V5h-2v2H9V5H7z' +
  'm3.2 10.6-2.5-2.5 1.1-1.1 1.4 1.4 4-4 1.1 1.1-5.1 5.1z"/></svg>';
export const assignmentsIcon = new LabIcon({ name: 'labhub-lab:assignments', svgstr: ICON_SVG });

interface Item {
  course: CourseRef;
  assignment: Assignment;
  submissions: Submission[] | null;
  feedback: Feedback | null;
  error: string;
}

/** What the last action on an assignment left to read: a receipt, a fetch's result, a refusal. */
interface Note {
  kind: 'receipt' | 'info' | 'error';
  lines: string[];
  receipt?: Submission;
}

const keyOf = (a: Assignment) => `${a.course}/${a.id}`;
const showTime = (iso: string | null) => localTime(iso, ms => new Date(ms).toLocaleString());
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K, className = '', text = '', attrs: Record<string, string> = {}
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, value);
  }
  return node;
}

export class AssignmentsPanel extends Widget {
  private courses: { course: CourseRef; items: Item[]; error: string }[] = [];
  private loadError = '';
  private loading = false;
  private notes = new Map<string, Note>();
  private busy = new Set<string>();
  private readonly openLine = el('p', 'labhub-lab-assignments-open');

  constructor(private docManager: IDocumentManager, private notebooks: INotebookTracker | null) {
    super();
    this.id = PANEL_ID;
    this.addClass('labhub-lab-assignments');
    this.title.icon = assignmentsIcon;
    this.title.caption = 'Assignments';
    notebooks?.currentChanged.connect(() => this.showOpenNotebook());
    this.render();
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  /** Read your courses, their assignments and your submissions again. */
  async refresh(): Promise<void> {
    if (this.loading) {
      return;
    }
    this.loading = true;
    this.render();
    try {
      const me = await api.me();
      this.courses = await Promise.all(me.courses.map(async course => {
        try {
          const assignments = await api.assignments(course.id);
          return { course, items: await Promise.all(assignments.map(a => this.load(course, a))), error: '' };
        } catch (error) {
          return { course, items: [], error: messageOf(error) };
        }
      }));
      this.loadError = '';
    } catch (error) {
      this.courses = [];
      this.loadError = messageOf(error);
    } finally {
      this.loading = false;
      this.render();
    }
  }

  private async load(course: CourseRef, assignment: Assignment): Promise<Item> {
    const item: Item = { course, assignment, submissions: null, feedback: null, error: '' };
    try {
      item.submissions = await api.submissions(course.id, assignment.id);
      const latest = item.submissions[item.submissions.length - 1];
      if (course.role === 'student' && assignment.feedback_released && latest) {
        item.feedback = await api.feedback(latest.id);
      }
    } catch (error) {
      item.error = messageOf(error);
    }
    return item;
  }

  private async reload(item: Item): Promise<void> {
    Object.assign(item, await this.load(item.course, item.assignment));
  }

  private async fetch(item: Item): Promise<void> {
    await this.act(item, async () => {
      const result = await api.fetch(item.course.id, item.assignment.id);
      const path = notebookToOpen(result);
      this.notes.set(keyOf(item.assignment), { kind: 'info', lines: [fetchLine(result)] });
      if (path) {
        this.docManager.openOrReveal(path);
      }
    });
  }

  private async submit(item: Item): Promise<void> {
    const widget = this.notebooks?.currentWidget;
    const path = submittablePath(widget?.context.path);
    const key = keyOf(item.assignment);
    if (!widget || !path) {
      this.notes.set(key, { kind: 'error', lines: ['Open the notebook you want to submit first.'] });
      this.render();
      return;
    }
    const answer = await showDialog({
      title: 'Submit notebook',
      body: `Submit ${path} to ${item.course.title}: ${item.assignment.title}? It is saved first; the latest ` +
        'version you submit is the one that counts.',
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })]
    });
    if (!answer.button.accept) {
      return;
    }
    await this.act(item, async () => {
      if (!widget.context.model.readOnly) {
        await widget.context.save();
      }
      const receipt = await api.submit(item.course.id, item.assignment.id, path);
      this.notes.set(key, { kind: 'receipt', lines: receiptLines(receipt), receipt });
      await this.reload(item);
    });
  }

  /** One action at a time per assignment; its refusal is shown beside it, in the service's words. */
  private async act(item: Item, action: () => Promise<void>): Promise<void> {
    const key = keyOf(item.assignment);
    if (this.busy.has(key)) {
      return;
    }
    this.busy.add(key);
    this.notes.delete(key);
    this.render();
    try {
      await action();
    } catch (error) {
      this.notes.set(key, { kind: 'error', lines: [messageOf(error)] });
    } finally {
      this.busy.delete(key);
      this.render();
    }
  }

  private showOpenNotebook(): void {
    const path = submittablePath(this.notebooks?.currentWidget?.context.path);
    this.openLine.textContent = path ? `Open notebook: ${path}` : 'No notebook open: open one to submit it.';
  }

  private render(): void {
    const node = this.node;
    node.replaceChildren();
    const header = el('div', 'labhub-lab-assignments-header');
    header.append(el('h2', '', 'Assignments'));
    const refresh = el('button', 'jp-mod-styled', this.loading ? 'Loading…' : 'Refresh');
    refresh.disabled = this.loading;
    refresh.addEventListener('click', () => void this.refresh());
    header.append(refresh);
    node.append(header);
    this.showOpenNotebook();
    node.append(this.openLine);
    if (this.loadError) {
      node.append(el('p', 'labhub-lab-assignments-error', this.loadError, { role: 'alert' }));
    } else if (!this.loading && this.courses.length === 0) {
      node.append(el('p', '', 'You are not in any course yet.'));
    }
    for (const { course, items, error } of this.courses) {
      const section = el('section', 'labhub-lab-course', '', { 'data-course': course.id });
      section.append(el('h3', '', `${course.title} (${course.id}, ${course.role})`));
      if (error) {
        section.append(el('p', 'labhub-lab-assignments-error', error, { role: 'alert' }));
      } else if (items.length === 0) {
        section.append(el('p', '', 'No assignments released yet.'));
      }
      for (const item of items) {
        section.append(this.renderItem(item));
      }
      node.append(section);
    }
  }

  private renderItem(item: Item): HTMLElement {
    const { course, assignment: a } = item;
    const key = keyOf(a);
    const box = el('div', 'labhub-lab-assignment', '', { 'data-course': a.course, 'data-assignment': a.id });
    box.append(el('h4', '', `${a.title} (${a.id})`));
    box.append(el('p', 'labhub-lab-assignment-state', `Due ${showTime(a.deadline)} · ${assignmentState(a)}`));
    if (item.error) {
      box.append(el('p', 'labhub-lab-assignments-error', item.error));
    } else if (item.submissions && course.role === 'instructor') {
      const counts = countsOf(item.submissions);
      box.append(el('p', 'labhub-lab-count', countsLine(counts), { 'data-students': String(counts.students) }));
    } else if (item.submissions) {
      box.append(el('p', 'labhub-lab-versions', versionsLine(item.submissions),
        { 'data-versions': String(item.submissions.length) }));
      if (a.feedback_released && item.submissions.length) {
        const feedback = el('div', 'labhub-lab-feedback');
        for (const line of feedbackLines(item.feedback)) {
          feedback.append(el('p', '', line));
        }
        box.append(feedback);
      }
    }
    const buttons = el('div', 'labhub-lab-assignment-buttons');
    const busy = this.busy.has(key);
    const fetch = el('button', 'jp-mod-styled', 'Fetch', { title: `Copy the starter files into your files and open the notebook` });
    fetch.disabled = busy;
    fetch.addEventListener('click', () => void this.fetch(item));
    buttons.append(fetch);
    if (a.accepting) {
      const submit = el('button', 'jp-mod-styled jp-mod-accept', 'Submit open notebook');
      submit.disabled = busy;
      submit.addEventListener('click', () => void this.submit(item));
      buttons.append(submit);
    }
    box.append(buttons);
    const note = this.notes.get(key);
    if (note) {
      box.append(this.renderNote(note));
    }
    return box;
  }

  private renderNote(note: Note): HTMLElement {
    if (note.kind === 'error') {
      return el('p', 'labhub-lab-assignments-error', note.lines.join(' '), { role: 'alert' });
    }
    const attrs: Record<string, string> = { role: 'status' };
    if (note.receipt) {
      attrs['data-version'] = String(note.receipt.version);
      attrs['data-submitted-at'] = note.receipt.submitted_at;
      attrs['data-sha256'] = note.receipt.sha256;
    }
    const box = el('div', note.kind === 'receipt' ? 'labhub-lab-receipt' : 'labhub-lab-note', '', attrs);
    for (const line of note.lines) {
      box.append(el('p', '', line));
    }
    return box;
  }
}
