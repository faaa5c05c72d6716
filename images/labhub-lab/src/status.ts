// The status bar item: runtime name, idle and max-age countdowns, the leased GPU and weekly hours.
// The reading is refreshed every REFRESH_MS; the countdowns move every second in between.
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { Reading } from './api';
import { Session, SessionGpu, deadlinesOf, formatDuration, secondsLeft } from './logic';

export const STATUS_ID = 'labhub-lab-status';

export class SessionStatus extends Widget {
  private reading: Reading | null = null;
  private error = '';

  constructor() {
    super();
    this.id = STATUS_ID;
    this.addClass('labhub-lab-status');
    this.node.addEventListener('click', () => void this.showDetails());
  }

  set(reading: Reading | null, error = ''): void {
    this.reading = reading;
    this.error = error;
    this.tick();
  }

  session(): Session | null {
    return this.reading?.status.session ?? null;
  }

  /** Server time now, from the browser's clock and the offset of the last reading. */
  serverNow(): number {
    return Date.now() / 1000 + (this.reading?.offset ?? 0);
  }

  tick(): void {
    const session = this.reading?.status.session ?? null;
    const node = this.node;
    if (!session) {
      node.textContent = this.error ? 'labhub: status unavailable' : 'labhub';
      node.title = this.error || 'No session status yet (the sessions service writes it shortly after a start).';
      delete node.dataset.idleLeft;
      delete node.dataset.ageLeft;
      return;
    }
    const now = this.serverNow();
    const deadlines = deadlinesOf(session);
    const idle = secondsLeft(deadlines.idle, now);
    const age = secondsLeft(deadlines.maxAge, now);
    // Figures for tests and screen readers; the text is for people.
    node.dataset.idleLeft = idle === null ? '' : String(Math.round(idle));
    node.dataset.ageLeft = age === null ? '' : String(Math.round(age));
    const parts = [session.display_name || session.profile];
    if (idle !== null) {
      parts.push(`idle stop in ${formatDuration(idle)}`);
    }
    if (age !== null) {
      parts.push(`max age in ${formatDuration(age)}`);
    }
    if (session.gpu) {
      parts.push(gpuSummary(session.gpu));
    }
    node.textContent = parts.join(' · ');
    node.title = detailLines(session, idle, age).join('\n');
  }

  private async showDetails(): Promise<void> {
    const session = this.reading?.status.session;
    if (!session) {
      return;
    }
    const deadlines = deadlinesOf(session);
    const now = this.serverNow();
    const body = document.createElement('pre');
    body.className = 'labhub-lab-details';
    body.textContent = detailLines(session, secondsLeft(deadlines.idle, now), secondsLeft(deadlines.maxAge, now)).join('\n');
    await showDialog({ title: 'Your runtime', body: new Widget({ node: body }), buttons: [Dialog.okButton({ label: 'Close' })] });
  }
}

function gpuName(gpu: SessionGpu): string {
  const id = gpu.uuid ? gpu.uuid.replace(/^GPU-/, '').slice(0, 8) : '';
  return [gpu.model, id && `(${id})`].filter(Boolean).join(' ');
}

function gpuSummary(gpu: SessionGpu): string {
  const slot = gpu.shared ? 'shared' : 'whole';
  const cap = gpu.memory_limit_mb ? `, ${formatMb(gpu.memory_limit_mb)} cap` : '';
  const hours = weekHours(gpu);
  return `GPU ${gpuName(gpu)} ${slot}${cap}${hours ? ` · ${hours}` : ''}`;
}

function weekHours(gpu: SessionGpu): string {
  if (gpu.week_hours_used === null || gpu.week_hours_used === undefined) {
    return '';
  }
  const used = gpu.week_hours_used.toFixed(1);
  if (gpu.week_hours_limit === null || gpu.week_hours_limit === undefined) {
    return `${used} GPU h this week`;
  }
  const left = Math.max(0, gpu.week_hours_limit - gpu.week_hours_used).toFixed(1);
  return `${used}/${gpu.week_hours_limit} GPU h this week (${left} h left)`;
}

function formatMb(mb: number): string {
  return mb >= 1024 ? `${(mb / 1024).toFixed(mb % 1024 ? 1 : 0)} GB` : `${mb} MB`;
}

function formatTime(epoch: number): string {
  return new Date(epoch * 1000).toLocaleString();
}

function detailLines(session: Session, idle: number | null, age: number | null): string[] {
  const lines = [`Runtime: ${session.display_name || session.profile} (${session.profile})`];
  lines.push(`Started: ${formatTime(session.started)}`);
  if (idle !== null) {
    lines.push(`Idle stop: in ${formatDuration(idle)} without interaction or a busy kernel` +
      (session.idle_timeout ? ` (timeout ${formatDuration(session.idle_timeout)})` : ''));
  } else {
    lines.push('Idle stop: none for this runtime');
  }
  if (age !== null) {
    lines.push(`Maximum age: reached in ${formatDuration(age)}; only an admin can extend it`);
  } else {
    lines.push('Maximum age: none for this runtime');
  }
  const gpu = session.gpu;
  if (gpu) {
    lines.push(`GPU: ${gpu.model} ${gpu.uuid}`);
    lines.push(`  ${gpu.shared ? 'a shared slot of the GPU' : 'the whole GPU'}` +
      (gpu.memory_limit_mb ? `, memory capped at ${formatMb(gpu.memory_limit_mb)}` : ''));
    const hours = weekHours(gpu);
    if (hours) {
      lines.push(`  ${hours}` + (gpu.week_resets ? `, resets ${formatTime(gpu.week_resets)}` : ''));
    }
  }
  if (session.stop) {
    lines.push(`Stop announced: ${session.stop.message} (at ${formatTime(session.stop.at)})`);
  }
  return lines;
}
