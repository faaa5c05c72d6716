// Run by `jlpm test` (node --test) in the image's builder stage: a failure fails the image build.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import {
  ReportThrottle,
  Session,
  Stop,
  clockOffset,
  deadlinesOf,
  dialogDue,
  dialogLead,
  formatDuration,
  saveDue,
  secondsLeft,
  stopKey,
  warningText
} from '../logic';

const idleStop = (at: number): Stop => ({ reason: 'idle', in_seconds: 60, at, message: 'Idle: stops soon.' });

test('durations read like a clock below an hour, then hours and days', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(-5), '0:00');
  assert.equal(formatDuration(42.9), '0:42');
  assert.equal(formatDuration(179), '2:59');
  assert.equal(formatDuration(3600 + 5 * 60 + 59), '1h 05m');
  assert.equal(formatDuration(3 * 86400 + 4 * 3600 + 10), '3d 4h');
});

test('deadlines come from the reading time, not from when the browser got it', () => {
  const session = { updated: 1000, idle_seconds_left: 170, age_seconds_left: null } as Session;
  assert.deepEqual(deadlinesOf(session), { idle: 1170, maxAge: null });
  assert.equal(secondsLeft(1170, 1100), 70);
  assert.equal(secondsLeft(1170, 2000), 0);
  assert.equal(secondsLeft(null, 2000), null);
});

test('the clock offset follows the Date header and is 0 without one', () => {
  const client = Date.parse('Wed, 02 Dec 2026 13:00:00 GMT');
  assert.equal(clockOffset('Wed, 02 Dec 2026 13:00:30 GMT', client), 30);
  assert.equal(clockOffset(null, client), 0);
  assert.equal(clockOffset('not a date', client), 0);
});

test('the dialog opens in the last 90 s, or half of warn_before when that is less', () => {
  assert.equal(dialogLead(600), 90);
  assert.equal(dialogLead(60), 30);
  assert.equal(dialogDue(idleStop(1060), 60, 1000), false);
  assert.equal(dialogDue(idleStop(1030), 60, 1000), true);
  assert.equal(dialogDue(idleStop(1000), 60, 1000), false, 'not after the stop');
  assert.equal(dialogDue(null, 60, 1000), false);
  assert.equal(dialogDue({ ...idleStop(1010), reason: 'gpu_idle' }, 60, 1000), true);
});

test('max age gets no "still there?" dialog: only an admin extends it', () => {
  const stop: Stop = { reason: 'max_age', in_seconds: 10, at: 1010, message: 'Max age reached.' };
  assert.equal(dialogDue(stop, 60, 1000), false);
  const text = warningText(stop, () => '14:00');
  assert.match(text, /14:00/);
  assert.match(text, /only an admin/i);
  assert.equal(warningText(idleStop(5), () => 'x'), 'Idle: stops soon.');
});

test('documents are saved in the last seconds before any stop, once per stop', () => {
  assert.equal(saveDue(idleStop(1100), 1000), false);
  assert.equal(saveDue(idleStop(1010), 1000), true);
  assert.equal(saveDue(null, 1000), false);
  assert.notEqual(stopKey(idleStop(1010)), stopKey(idleStop(1200)));
});

test('interaction goes out at most once a minute and the last one is not lost', () => {
  const throttle = new ReportThrottle(60_000);
  assert.equal(throttle.offer(0), 'now');
  assert.equal(throttle.offer(1_000), 'later');
  assert.equal(throttle.nextAtMs(), 60_000);
  assert.equal(throttle.offer(2_000), 'skip');
  throttle.sent(60_000);
  assert.equal(throttle.offer(61_000), 'later');
  throttle.sent(120_000);
  assert.equal(throttle.offer(200_000), 'now');
});
