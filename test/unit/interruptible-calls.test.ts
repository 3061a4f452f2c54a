import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EARLY_YIELD_TTL_MS, InterruptibleCalls } from '../../activities/model/interruptible-calls.ts';

test('a yield reaches a running call; one asked before its call starts here is kept until it does, for a while', async () => {
  const calls = new InterruptibleCalls();
  let release!: () => void;
  const running = calls.run('sesn_a', 'call:0', async (call) => {
    await new Promise<void>((resolve) => (release = resolve));
    return call.yieldRequested;
  });
  assert.equal(calls.yieldAfterStep('sesn_a', 'call:0'), true);
  release();
  assert.equal(await running, true);

  const now = Date.now();
  assert.equal(calls.yieldAfterStep('sesn_a', 'call:5', now), false, 'not running here');
  assert.equal(await calls.run('sesn_a', 'call:5', async (call) => call.yieldRequested), true, 'the call that starts later takes the yield');
  assert.equal(await calls.run('sesn_a', 'call:5', async (call) => call.yieldRequested), false, 'once');
  assert.equal(await calls.run('sesn_b', 'call:0', async (call) => call.yieldRequested), false, 'only its own call');

  calls.yieldAfterStep('sesn_a', 'call:9', now - EARLY_YIELD_TTL_MS - 1);
  // Forgotten by the time another yield is asked.
  calls.yieldAfterStep('sesn_a', 'call:10', now);
  assert.equal(await calls.run('sesn_a', 'call:9', async (call) => call.yieldRequested), false, 'too old');
});

test('an interrupt stops a running call and names the step it is on', async () => {
  const calls = new InterruptibleCalls();
  assert.equal(calls.interrupt('sesn_a', 'call:0'), undefined);
  const running = calls.run('sesn_a', 'call:0', async (call) => {
    call.currentKey = 'call:2';
    await new Promise((resolve) => call.interrupted.addEventListener('abort', resolve));
    return 'stopped';
  });
  assert.equal(calls.interrupt('sesn_a', 'call:0'), 'call:2');
  assert.equal(await running, 'stopped');
});
