// The server extension's API (labhub_lab/handlers.py), through JupyterLab's own connection so the
// server's auth and XSRF handling apply; the hub is never called from here.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { Status, clockOffset } from './logic';

export type InteractionSource = 'keyboard' | 'mouse' | 'execute' | 'save' | 'terminal' | 'still-there';

const settings = ServerConnection.makeSettings();
const url = (path: string) => URLExt.join(settings.baseUrl, 'labhub-lab', 'api', path);

/** A status reading and the server-minus-browser clock offset (seconds) it came with. */
export interface Reading {
  status: Status;
  offset: number;
}

export async function fetchStatus(): Promise<Reading> {
  const response = await ServerConnection.makeRequest(url('status'), { method: 'GET' }, settings);
  if (!response.ok) {
    throw new ServerConnection.ResponseError(response);
  }
  const status = (await response.json()) as Status;
  return { status, offset: clockOffset(response.headers.get('Date'), Date.now()) };
}

export async function reportInteraction(source: InteractionSource): Promise<void> {
  const response = await ServerConnection.makeRequest(
    url('interaction'),
    { method: 'POST', body: JSON.stringify({ source }) },
    settings
  );
  if (!response.ok) {
    throw new ServerConnection.ResponseError(response);
  }
}
