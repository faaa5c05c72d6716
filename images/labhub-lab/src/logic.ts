// The pure decisions of the frontend, kept apart from JupyterLab so node's test runner can check
// them (src/__tests__/logic.spec.ts). Times are epoch seconds unless a name says "Ms".

/** The stop the sessions service announced (GET labhub-lab/api/status, session.stop). */
export interface Stop {
  reason: 'idle' | 'gpu_idle' | 'max_age';
  in_seconds: number;
  at: number;
  message: string;
}

export interface SessionGpu {
  uuid: string;
  model: string;
  shared: boolean;
  memory_limit_mb: number | null;
  week_hours_used: number | null;
  week_hours_limit: number | null;
  week_resets: number | null;
}

/** What the sessions service wrote about this server. */
export interface Session {
  profile: string;
  display_name: string;
  updated: number;
  started: number;
  idle_timeout: number | null;
  idle_seconds_left: number | null;
  max_age: number | null;
  age_seconds_left: number | null;
  warn_before: number;
  stop: Stop | null;
  gpu: SessionGpu | null;
}

export interface Status {
  session: Session | null;
  activity: {
    last_interaction: number | null;
    last_reported: number | null;
    interval: number;
  };
  gpu: unknown;
}

/** Interaction is reported at most once a minute (docs/sessions.md). */
export const REPORT_INTERVAL_MS = 60_000;
/** Open documents with unsaved changes are saved this long before a stop. */
export const SAVE_LEAD_S = 15;
/** The "still there?" dialog opens at most this long before an idle stop. */
export const DIALOG_LEAD_MAX_S = 90;

/**
 * A duration for the status bar: "0:42", "2:59", "1h 05m", "3d 4h"; "0:00" once it is over.
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = s % 60;
  if (days > 0) {
    return `${days}d ${hours}h`;
  }
  if (hours > 0) {
    return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  }
  return `${minutes}:${String(secs).padStart(2, '0')}`;
}

/**
 * Deadlines in the server's clock, from one status reading: the service's figures hold at
 * `updated`, so each deadline is `updated + seconds_left` whatever the age of the reading.
 */
export interface Deadlines {
  idle: number | null;
  maxAge: number | null;
}

export function deadlinesOf(session: Session): Deadlines {
  const at = (left: number | null) => (left === null || left === undefined ? null : session.updated + left);
  return { idle: at(session.idle_seconds_left), maxAge: at(session.age_seconds_left) };
}

/**
 * The browser's and the server's clocks may differ (a laptop against the lab's host): the offset
 * is taken from the response's Date header, so countdowns run in the server's time.
 */
export function clockOffset(serverDateHeader: string | null, clientNowMs: number): number {
  const serverMs = serverDateHeader ? Date.parse(serverDateHeader) : NaN;
  return Number.isNaN(serverMs) ? 0 : (serverMs - clientNowMs) / 1000;
}

export function secondsLeft(deadline: number | null, serverNow: number): number | null {
  return deadline === null ? null : Math.max(0, deadline - serverNow);
}

/** How long before an idle stop the modal opens: the last 90 s, or half of warn_before if less. */
export function dialogLead(warnBefore: number): number {
  return Math.min(DIALOG_LEAD_MAX_S, Math.max(0, warnBefore) / 2);
}

/** Whether the "still there?" dialog is due: an idle stop (not max age: only an admin extends it). */
export function dialogDue(stop: Stop | null, warnBefore: number, serverNow: number): boolean {
  if (!stop || stop.reason === 'max_age') {
    return false;
  }
  const left = stop.at - serverNow;
  return left > 0 && left <= dialogLead(warnBefore);
}

/** Whether to save open documents now: any announced stop, in its last SAVE_LEAD_S seconds. */
export function saveDue(stop: Stop | null, serverNow: number): boolean {
  return !!stop && stop.at - serverNow <= SAVE_LEAD_S;
}

/** One key per announced stop, so each stop warns (and saves) once. */
export function stopKey(stop: Stop): string {
  return `${stop.reason}@${Math.round(stop.at)}`;
}

/** The warning text; for max age it says when, and that only an admin can extend it. */
export function warningText(stop: Stop, formatTime: (epoch: number) => string): string {
  const base = stop.message || 'This runtime will be stopped.';
  if (stop.reason !== 'max_age') {
    return base;
  }
  const extra = /admin/i.test(base) ? '' : ' Only an admin can extend the maximum age.';
  return `${base} It stops at ${formatTime(stop.at)}.${extra}`;
}

/**
 * At most one report a minute: the first interaction goes out at once; later ones within the
 * minute are folded into a single report at the end of it, so the last interaction is never lost.
 */
export class ReportThrottle {
  private last = -Infinity;
  private pending = false;

  constructor(readonly intervalMs: number = REPORT_INTERVAL_MS) {}

  /** An interaction at nowMs: send 'now', schedule one report for nextAtMs() ('later'), or 'skip'. */
  offer(nowMs: number): 'now' | 'later' | 'skip' {
    if (this.pending) {
      return 'skip';
    }
    if (nowMs - this.last >= this.intervalMs) {
      this.last = nowMs;
      return 'now';
    }
    this.pending = true;
    return 'later';
  }

  nextAtMs(): number {
    return this.last + this.intervalMs;
  }

  /** The scheduled report went out (or a forced one, like "still there", did). */
  sent(nowMs: number): void {
    this.pending = false;
    this.last = nowMs;
  }
}
