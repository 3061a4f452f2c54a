import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_STEP_ADMISSION, eventLoopBusy, opensTurn, StepAdmission } from '../../activities/model/step-admission.ts';
import { ConfigError } from '../../src/config/dev-config.ts';
import { stepAdmissionFromEnv } from '../../src/config/step-admission-config.ts';

/** A step that runs until `finish()`, recording when it began. */
function heldStep(log: string[], name: string) {
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  return {
    finish,
    run: async () => {
      log.push(name);
      await finished;
      return name;
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('with no turn opening, later steps all run at once', async () => {
  const admission = new StepAdmission({ laterWhileOpening: 1, maxWaitMs: 10_000, busy: () => true });
  const log: string[] = [];
  const steps = ['a', 'b', 'c'].map((name) => heldStep(log, name));
  const running = steps.map((step) => admission.run(false, step.run));
  await settle();
  assert.deepEqual(log, ['a', 'b', 'c']);
  assert.deepEqual(admission.counts, { opening: 0, later: 3, waiting: 0 });
  for (const step of steps) step.finish();
  assert.deepEqual(await Promise.all(running), ['a', 'b', 'c']);
  assert.deepEqual(admission.counts, { opening: 0, later: 0, waiting: 0 });
});

test('while a turn opens, later steps run a few at a time, oldest first, and all go once it is done', async () => {
  const admission = new StepAdmission({ laterWhileOpening: 2, maxWaitMs: 10_000, busy: () => true });
  const log: string[] = [];
  const first = heldStep(log, 'first');
  const opening = admission.run(true, first.run);
  const later = ['l1', 'l2', 'l3', 'l4', 'l5'].map((name) => heldStep(log, name));
  const running = later.map((step) => admission.run(false, step.run));
  await settle();
  assert.deepEqual(log, ['first', 'l1', 'l2']);
  assert.deepEqual(admission.counts, { opening: 1, later: 2, waiting: 3 });

  later[0]!.finish();
  await settle();
  assert.deepEqual(log, ['first', 'l1', 'l2', 'l3'], 'one ended, the oldest waiting one goes');
  assert.deepEqual(admission.counts, { opening: 1, later: 2, waiting: 2 });

  // Another turn opening does not wait, whatever is running.
  const second = heldStep(log, 'second');
  const secondOpening = admission.run(true, second.run);
  await settle();
  assert.equal(log.at(-1), 'second');

  first.finish();
  await settle();
  assert.deepEqual(admission.counts.waiting, 2, 'a turn still opens: the cap holds');
  second.finish();
  await settle();
  assert.deepEqual(log.slice(-2), ['l4', 'l5'], 'no turn opening: the rest go');
  for (const step of later) step.finish();
  await Promise.all([opening, secondOpening, ...running]);
  assert.deepEqual(admission.counts, { opening: 0, later: 0, waiting: 0 });
});

test('a later step waits no longer than maxWaitMs, and not at all once abandoned', async () => {
  const admission = new StepAdmission({ laterWhileOpening: 1, maxWaitMs: 50, busy: () => true });
  const log: string[] = [];
  const first = heldStep(log, 'first');
  const opening = admission.run(true, first.run);
  const busy = heldStep(log, 'busy');
  const busyRun = admission.run(false, busy.run);
  const late = heldStep(log, 'late');
  const lateRun = admission.run(false, late.run);
  await settle();
  assert.deepEqual(log, ['first', 'busy']);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(log, ['first', 'busy', 'late'], 'went after its longest wait');
  assert.equal(admission.counts.later, 2);

  const abandon = new AbortController();
  const stopped = heldStep(log, 'stopped');
  const stoppedRun = admission.run(false, stopped.run, [new AbortController().signal, abandon.signal]);
  await settle();
  assert.equal(admission.counts.waiting, 1);
  abandon.abort();
  await settle();
  assert.equal(log.at(-1), 'stopped', 'an interrupt ends the wait: the step sees it itself');
  assert.equal(admission.counts.waiting, 0);

  for (const step of [first, busy, late, stopped]) step.finish();
  await Promise.all([opening, busyRun, lateRun, stoppedRun]);
  assert.deepEqual(admission.counts, { opening: 0, later: 0, waiting: 0 });
});

test('a worker with time to spare lets later steps run beside an opening turn, and those waiting go once it has', async () => {
  let busy = false;
  const admission = new StepAdmission({ laterWhileOpening: 1, maxWaitMs: 10_000, busy: () => busy });
  const log: string[] = [];
  const first = heldStep(log, 'first');
  const opening = admission.run(true, first.run);
  const a = heldStep(log, 'a');
  const b = heldStep(log, 'b');
  const running = [admission.run(false, a.run), admission.run(false, b.run)];
  await settle();
  assert.deepEqual(log, ['first', 'a', 'b'], 'not busy: no one waits');

  busy = true;
  const c = heldStep(log, 'c');
  const d = heldStep(log, 'd');
  running.push(admission.run(false, c.run), admission.run(false, d.run));
  await settle();
  assert.deepEqual(admission.counts, { opening: 1, later: 2, waiting: 2 });
  busy = false;
  a.finish();
  await settle();
  assert.deepEqual(log.slice(-2), ['c', 'd'], 'a step ending finds the worker idle: every waiting step goes');
  for (const step of [first, b, c, d]) step.finish();
  await Promise.all([opening, ...running]);
});

test('a failing step frees its place', async () => {
  const admission = new StepAdmission({ laterWhileOpening: 1, maxWaitMs: 10_000, busy: () => true });
  const log: string[] = [];
  const first = heldStep(log, 'first');
  const opening = admission.run(true, first.run);
  let fail!: (error: Error) => void;
  const failing = admission.run(false, () => new Promise<string>((_, reject) => (fail = reject)));
  const next = heldStep(log, 'next');
  const nextRun = admission.run(false, next.run);
  await settle();
  assert.deepEqual(log, ['first']);
  fail(new Error('model down'));
  await assert.rejects(failing, /model down/);
  await settle();
  assert.deepEqual(log, ['first', 'next']);
  first.finish();
  next.finish();
  await Promise.all([opening, nextRun]);
});

test('the event loop is busy when it worked most of the last window', async () => {
  const busy = eventLoopBusy({ threshold: 0.8, windowMs: 50 });
  const until = performance.now() + 80;
  while (performance.now() < until) {
    // Work without a break: the loop never idles.
  }
  assert.equal(busy(), true);
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(busy(), false, 'a loop that waited on a timer had time to spare');
});

test('a turn opens with the running status of the session or of a thread', () => {
  const event = (type: string) => ({ key: type, event: { type } });
  assert.equal(opensTurn([event('user.message'), event('session.status_running')]), true);
  assert.equal(opensTurn([event('session.thread_status_running')]), true);
  assert.equal(opensTurn([event('user.message')]), false, 'input that came during a turn');
  assert.equal(opensTurn([]), false);
});

test('settings are checked', () => {
  assert.throws(() => new StepAdmission({ laterWhileOpening: 0, maxWaitMs: 10 }), /at least 1/);
  assert.throws(() => new StepAdmission({ laterWhileOpening: 1.5, maxWaitMs: 10 }), /whole number/);
  assert.throws(() => new StepAdmission({ laterWhileOpening: 1, maxWaitMs: -1 }), /from 0 to 10000 ms/);
  assert.throws(() => new StepAdmission({ laterWhileOpening: 1, maxWaitMs: 30_000 }), /from 0 to 10000 ms, not 30000/);
});

test('LONGHAUL_STEP_ADMISSION and its longest wait come from the environment; unset means the worker default', () => {
  assert.deepEqual(stepAdmissionFromEnv({}), {});
  assert.deepEqual(stepAdmissionFromEnv({ LONGHAUL_STEP_ADMISSION: 'off' }), { stepAdmission: false });
  assert.deepEqual(stepAdmissionFromEnv({ LONGHAUL_STEP_ADMISSION: ' 3 ', LONGHAUL_STEP_ADMISSION_MAX_WAIT_MS: '250' }), { stepAdmission: { laterWhileOpening: 3, maxWaitMs: 250 } });
  assert.deepEqual(stepAdmissionFromEnv({ LONGHAUL_STEP_ADMISSION_MAX_WAIT_MS: '250' }), { stepAdmission: { laterWhileOpening: DEFAULT_STEP_ADMISSION.laterWhileOpening, maxWaitMs: 250 } });
  const fails = (env: NodeJS.ProcessEnv, pattern: RegExp) => assert.throws(() => stepAdmissionFromEnv(env), (error: unknown) => error instanceof ConfigError && pattern.test(error.message));
  fails({ LONGHAUL_STEP_ADMISSION: 'on' }, /LONGHAUL_STEP_ADMISSION must be a whole number of steps \(or off\), from 1/);
  fails({ LONGHAUL_STEP_ADMISSION: '0' }, /got "0"/);
  fails({ LONGHAUL_STEP_ADMISSION: 'off', LONGHAUL_STEP_ADMISSION_MAX_WAIT_MS: '10' }, /no effect with LONGHAUL_STEP_ADMISSION=off/);
  fails({ LONGHAUL_STEP_ADMISSION_MAX_WAIT_MS: '30000' }, /LONGHAUL_STEP_ADMISSION_MAX_WAIT_MS must be a whole number of milliseconds, from 0 to 10000/);
});
