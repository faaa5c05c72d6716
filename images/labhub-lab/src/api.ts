// The server extension's API (labhub_lab/handlers.py, assignments.py), through JupyterLab's own
// connection so the server's auth and XSRF handling apply; the hub is never called from here.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { Assignment, FetchResult, Feedback, Me, Submission } from './assignments';
import { Status, clockOffset } from './logic';

export type InteractionSource = 'keyboard' | 'mouse' | 'execute' | 'save' | 'terminal' | 'still-there';

const settings = ServerConnection.makeSettings();
const url = (...path: string[]) => URLExt.join(settings.baseUrl, 'labhub-lab', 'api', ...path);

/** A call that must succeed; a refusal throws with the server's (or the service's) message. */
async function request(path: string[], init: RequestInit): Promise<Response> {
  const response = await ServerConnection.makeRequest(url(...path), init, settings);
  if (!response.ok) {
    throw await ServerConnection.ResponseError.create(response);
  }
  return response;
}

/** A status reading and the server-minus-browser clock offset (seconds) it came with. */
export interface Reading {
  status: Status;
  offset: number;
}

export async function fetchStatus(): Promise<Reading> {
  const response = await request(['status'], { method: 'GET' });
  const status = (await response.json()) as Status;
  return { status, offset: clockOffset(response.headers.get('Date'), Date.now()) };
}

export async function reportInteraction(source: InteractionSource): Promise<void> {
  await request(['interaction'], { method: 'POST', body: JSON.stringify({ source }) });
}

// The assignments panel: each call goes to the submissions service as this server's user.
async function assignmentsCall<T>(method: 'GET' | 'POST', path: string[], body?: unknown): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
  }
  const response = await request(['assignments', ...path.map(encodeURIComponent)], init);
  return (await response.json()) as T;
}

export const assignmentsApi = {
  me: () => assignmentsCall<Me>('GET', ['me']),
  assignments: (course: string) => assignmentsCall<Assignment[]>('GET', ['courses', course]),
  submissions: (course: string, assignment: string) =>
    assignmentsCall<Submission[]>('GET', ['courses', course, assignment, 'submissions']),
  fetch: (course: string, assignment: string) =>
    assignmentsCall<FetchResult>('POST', ['courses', course, assignment, 'fetch']),
  submit: (course: string, assignment: string, path: string) =>
    assignmentsCall<Submission>('POST', ['courses', course, assignment, 'submit'], { path }),
  feedback: (submission: number) => assignmentsCall<Feedback>('GET', ['submissions', String(submission), 'feedback'])
};
