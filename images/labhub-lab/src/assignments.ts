// The assignments panel's pure part: the submissions service's answers (forwarded by
// labhub_lab/assignments.py) turned into the lines the panel shows. No JupyterLab here, so node's
// test runner checks it (src/__tests__/assignments.spec.ts). Times from the service are ISO 8601 UTC.

export type Role = 'student' | 'instructor';

export interface CourseRef {
  id: string;
  title: string;
  role: Role;
}

export interface Me {
  name: string;
  courses: CourseRef[];
}

export interface AssignmentFile {
  kind: 'starter' | 'visible_tests' | 'hidden_tests';
  name: string;
}

export interface Assignment {
  course: string;
  id: string;
  title: string;
  released: boolean;
  release_at: string | null;
  deadline: string;
  late_policy: string;
  accepting: boolean;
  past_deadline: boolean;
  feedback_released: boolean;
  files: AssignmentFile[];
}

export interface Grading {
  state: string;
  outcome_text: string;
  score: number | null;
  max_score: number | null;
  message?: string;
  tests: { name: string; passed: boolean; points: number | null }[];
}

/** A submission as the service lists it; also the receipt of a new one. */
export interface Submission {
  id: number;
  course: string;
  assignment: string;
  student: string;
  version: number;
  filename: string;
  size: number;
  sha256: string;
  submitted_at: string;
  late: boolean;
  grading?: Grading | null; // instructors' lists only
}

export interface Feedback {
  submission: Submission;
  grading: Grading | null;
}

export interface FetchResult {
  folder: string;
  written: string[];
  skipped: string[];
  /** The folder among this server's files (null: outside them). */
  path: string | null;
}

/** The state line of an assignment: whether a submission is taken now. */
export function assignmentState(a: Assignment): string {
  if (!a.released) {
    return a.release_at ? `not released (opens ${a.release_at})` : 'not released';
  }
  if (!a.accepting) {
    return 'closed: the deadline has passed';
  }
  return a.past_deadline ? 'open, late: the deadline has passed' : 'open';
}

/** "2026-12-03T10:00:00Z" as a time in the reader's zone, via `format`; the raw text if unparsable. */
export function localTime(iso: string | null, format: (ms: number) => string): string {
  if (!iso) {
    return '';
  }
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : format(ms);
}

/** A student's own versions, oldest first as the service lists them. */
export function versionsLine(mine: Submission[]): string {
  if (mine.length === 0) {
    return 'No submission yet.';
  }
  const latest = mine[mine.length - 1];
  const count = mine.length === 1 ? '1 version' : `${mine.length} versions`;
  return `Submitted: ${count}; latest is version ${latest.version} of ${latest.submitted_at}${latest.late ? ' (late)' : ''}.`;
}

function points(value: number | null): string {
  return value === null || value === undefined ? '?' : String(Number(value.toFixed(2)));
}

/** The feedback on the latest version, once the instructor released it. */
export function feedbackLines(feedback: Feedback | null): string[] {
  const grading = feedback?.grading;
  if (!grading) {
    return ['Feedback: not graded yet.'];
  }
  const lines = [`Score: ${points(grading.score)} / ${points(grading.max_score)} (${grading.outcome_text}, version ${feedback!.submission.version})`];
  if (grading.message) {
    lines.push(grading.message);
  }
  for (const t of grading.tests) {
    lines.push(`${t.passed ? 'passed' : 'FAILED'}: ${t.name}${t.points === null || t.points === undefined ? '' : ` (${points(t.points)} pt)`}`);
  }
  return lines;
}

/** An instructor's figures: the service lists the latest submission of each student. */
export interface Counts {
  students: number;
  graded: number;
  late: number;
}

export function countsOf(latestPerStudent: Submission[]): Counts {
  return {
    students: latestPerStudent.length,
    graded: latestPerStudent.filter(s => s.grading && s.grading.state === 'done').length,
    late: latestPerStudent.filter(s => s.late).length
  };
}

export function countsLine(c: Counts): string {
  const who = c.students === 1 ? '1 student has submitted' : `${c.students} students have submitted`;
  return `${who}; ${c.graded} graded, ${c.late} late.`;
}

/**
 * The notebook to open after a fetch: the first starter notebook at the top of the folder, else the
 * first one in a subfolder; null when the folder holds none or lies outside the server's files.
 */
export function notebookToOpen(result: FetchResult): string | null {
  if (result.path === null) {
    return null;
  }
  const notebooks = [...result.written, ...result.skipped].filter(name => name.endsWith('.ipynb')).sort();
  const chosen = notebooks.find(name => !name.includes('/')) ?? notebooks[0];
  if (!chosen) {
    return null;
  }
  return result.path ? `${result.path}/${chosen}` : chosen;
}

export function fetchLine(result: FetchResult): string {
  const kept = result.skipped.length ? `, ${result.skipped.length} of yours kept as they were` : '';
  return `Fetched ${result.written.length} file(s) into ${result.folder}${kept}.`;
}

/** The receipt in the panel's words; the time is the service's, the only clock that counts. */
export function receiptLines(r: Submission): string[] {
  return [
    `Submitted ${r.filename} as version ${r.version}${r.late ? ' (late)' : ''}.`,
    `Received (server time, UTC): ${r.submitted_at}`,
    `SHA-256: ${r.sha256}`
  ];
}

/** Whether the open document can be submitted: a notebook (the service takes nothing else). */
export function submittablePath(path: string | null | undefined): string | null {
  return path && path.endsWith('.ipynb') ? path : null;
}
