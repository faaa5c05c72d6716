// Real interaction only: keys, pointer and wheel in the lab, cell executions, saves by the user,
// terminal input. Background polling never passes through here, so it never counts.
import { JupyterFrontEnd } from '@jupyterlab/application';
import { NotebookActions } from '@jupyterlab/notebook';

import { InteractionSource, reportInteraction } from './api';
import { ReportThrottle } from './logic';

// The commands a user saves with (Ctrl+S, the File menu); JupyterLab's autosave is not one of them.
const SAVE_COMMANDS = new Set(['docmanager:save', 'docmanager:save-all', 'docmanager:save-as']);

export class InteractionReporter {
  private throttle = new ReportThrottle();
  private latest: InteractionSource = 'mouse';
  private timer: number | undefined;

  constructor(private onError: (error: unknown) => void) {}

  attach(app: JupyterFrontEnd): void {
    const options = { capture: true, passive: true };
    document.addEventListener('keydown', event => this.offer(inTerminal(event) ? 'terminal' : 'keyboard'), options);
    document.addEventListener('pointerdown', () => this.offer('mouse'), options);
    document.addEventListener('wheel', () => this.offer('mouse'), options);
    NotebookActions.executionScheduled.connect(() => this.offer('execute'));
    NotebookActions.executed.connect(() => this.offer('execute'));
    app.commands.commandExecuted.connect((_, args) => {
      if (SAVE_COMMANDS.has(args.id)) {
        this.offer('save');
      }
    });
  }

  /** At once, whatever the throttle says: the "still there?" button. */
  async now(source: InteractionSource): Promise<void> {
    this.throttle.sent(Date.now());
    await reportInteraction(source);
  }

  private offer(source: InteractionSource): void {
    this.latest = source;
    const decision = this.throttle.offer(Date.now());
    if (decision === 'now') {
      this.send(source);
    } else if (decision === 'later') {
      const delay = Math.max(0, this.throttle.nextAtMs() - Date.now());
      this.timer = window.setTimeout(() => {
        this.timer = undefined;
        this.throttle.sent(Date.now());
        this.send(this.latest);
      }, delay);
    }
  }

  private send(source: InteractionSource): void {
    reportInteraction(source).catch(this.onError);
  }

  dispose(): void {
    window.clearTimeout(this.timer);
  }
}

function inTerminal(event: Event): boolean {
  const target = event.target;
  return target instanceof Element && target.closest('.jp-Terminal') !== null;
}
