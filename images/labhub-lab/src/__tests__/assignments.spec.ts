// The assignments panel's pure part (src/assignments.ts); run by `jlpm test` in the image build.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import {
  Assignment,
  Feedback,
  FetchResult,
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
} from '../assignments';

const assignment = (over: Partial<Assignment> = {}): Assignment => ({
  course: 'ml', id: 'hw1', title: 'Adding numbers', released: true, release_at: '2026-12-01T09:00:00Z',
  deadline: '2026-12-10T23:59:00Z', late_policy: 'refuse', accepting: true, past_deadline: false,
  feedback_released: false, files: [], ...over
});

const submission = (version: number, over: Partial<Submission> = {}): Submission => ({
  id: 40 + version, course: 'ml', assignment: 'hw1', student: 'dana', version, filename: 'hw.ipynb', size: 900,
  sha256: 'ab'.repeat(32), submitted_at: `2026-12-03T10:0${version}:00Z`, late: false, ...over
});

test('the state says whether a submission is taken now, and why not', () => {
  assert.equal(assignmentState(assignment()), 'open');
  assert.equal(assignmentState(assignment({ past_deadline: true, late_policy: 'accept' })), 'open, late: the deadline has passed');
  assert.equal(assignmentState(assignment({ accepting: false, past_deadline: true })), 'closed: the deadline has passed');
  assert.equal(assignmentState(assignment({ released: false, accepting: false, release_at: null })), 'not released');
  assert.match(assignmentState(assignment({ released: false, accepting: false, release_at: '2027-01-01T00:00:00Z' })),
    /not released \(opens 2027-01-01/);
});

test('times are shown in the reader\'s zone; what does not parse is shown as it came', () => {
  assert.equal(localTime('2026-12-03T10:00:00Z', ms => String(ms)), String(Date.UTC(2026, 11, 3, 10)));
  assert.equal(localTime('soon', () => 'never used'), 'soon');
  assert.equal(localTime(null, () => 'never used'), '');
});

test('a student sees how many versions and which one counts', () => {
  assert.equal(versionsLine([]), 'No submission yet.');
  assert.equal(versionsLine([submission(1)]), 'Submitted: 1 version; latest is version 1 of 2026-12-03T10:01:00Z.');
  assert.equal(versionsLine([submission(1), submission(2, { late: true })]),
    'Submitted: 2 versions; latest is version 2 of 2026-12-03T10:02:00Z (late).');
});

test('feedback: the score, the message and each test; "not graded yet" without a grading', () => {
  assert.deepEqual(feedbackLines(null), ['Feedback: not graded yet.']);
  const feedback: Feedback = {
    submission: submission(2),
    grading: { state: 'done', outcome_text: 'graded', score: 2, max_score: 3, message: '',
      tests: [{ name: 'add(1, 2) is 3', passed: true, points: 1 }, { name: 'hidden test 1', passed: false, points: 2 }] }
  };
  assert.deepEqual(feedbackLines(feedback), [
    'Score: 2 / 3 (graded, version 2)', 'passed: add(1, 2) is 3 (1 pt)', 'FAILED: hidden test 1 (2 pt)'
  ]);
  const limited: Feedback = { submission: submission(1),
    grading: { state: 'done', outcome_text: 'time limit', score: null, max_score: null, message: 'ran over 60 s', tests: [] } };
  assert.deepEqual(feedbackLines(limited), ['Score: ? / ? (time limit, version 1)', 'ran over 60 s']);
});

test('an instructor counts students who submitted, graded and late ones', () => {
  const done = { state: 'done', outcome_text: 'graded', score: 1, max_score: 1, tests: [] };
  const latest = [submission(1), submission(3, { student: 'eli', late: true, grading: done }),
    submission(1, { student: 'fay', grading: { ...done, state: 'queued' } })];
  assert.deepEqual(countsOf(latest), { students: 3, graded: 1, late: 1 });
  assert.equal(countsLine(countsOf(latest)), '3 students have submitted; 1 graded, 1 late.');
  assert.equal(countsLine(countsOf([submission(1)])), '1 student has submitted; 0 graded, 0 late.');
  assert.equal(countsLine(countsOf([])), '0 students have submitted; 0 graded, 0 late.');
});

test('after a fetch the top-level starter notebook opens, kept or new', () => {
  const result = (over: Partial<FetchResult>): FetchResult => ({
    folder: 'assignments/ml/hw1', path: 'assignments/ml/hw1', written: [], skipped: [], ...over
  });
  assert.equal(notebookToOpen(result({ written: ['data.txt', 'extra/b.ipynb', 'hw.ipynb'] })), 'assignments/ml/hw1/hw.ipynb');
  assert.equal(notebookToOpen(result({ skipped: ['hw.ipynb'], written: ['data.txt'] })), 'assignments/ml/hw1/hw.ipynb');
  assert.equal(notebookToOpen(result({ written: ['sub/a.ipynb', 'data.txt'] })), 'assignments/ml/hw1/sub/a.ipynb');
  assert.equal(notebookToOpen(result({ written: ['data.txt'] })), null);
  assert.equal(notebookToOpen(result({ written: ['hw.ipynb'], path: null })), null, 'outside the server\'s files');
  assert.equal(notebookToOpen(result({ written: ['hw.ipynb'], path: '' })), 'hw.ipynb', 'the root itself');
  assert.equal(fetchLine(result({ written: ['a', 'b'], skipped: ['hw.ipynb'] })),
    'Fetched 2 file(s) into assignments/ml/hw1, 1 of yours kept as they were.');
});

test('the receipt names the version, the server\'s time and the hash', () => {
  const lines = receiptLines(submission(1));
  assert.deepEqual(lines, ['Submitted hw.ipynb as version 1.', 'Received (server time, UTC): 2026-12-03T10:01:00Z',
    `SHA-256: ${'ab'.repeat(32)}`]);
  assert.match(receiptLines(submission(2, { late: true }))[0], /version 2 \(late\)/);
});

test('only a notebook can be submitted', () => {
  assert.equal(submittablePath('assignments/ml/hw1/hw.ipynb'), 'assignments/ml/hw1/hw.ipynb');
  assert.equal(submittablePath('notes.txt'), null);
  assert.equal(submittablePath(undefined), null);
  assert.equal(submittablePath(''), null);
});
