/**
 * A session's disk quota, seen from the session: the agent that fills its disk gets a
 * tool error saying so, the session reports a `session.error`, and the turn goes on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { text, toolUse, type ScriptFunction } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness, startTestTemporal } from '../support/harness.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const agent = { name: 'filler', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };

test('filling the disk is a tool error and a session.error; the agent frees space and the session goes on', async () => {
  const script: ScriptFunction = (_request, { callIndex }) => {
    if (callIndex === 0) return { content: [toolUse('bash', { command: 'dd if=/dev/zero of=/workspace/big bs=1M count=500 2>&1' })] };
    if (callIndex === 1) return { content: [toolUse('bash', { command: 'rm /workspace/big && echo freed > /workspace/ok.txt && cat /workspace/ok.txt' })] };
    return { content: [text('cleaned up')] };
  };
  await using h = await startHarness({ temporal, script });
  const session = await h.longhaul.sessions.create({
    agent,
    environment: { disk_mb: 64 },
    events: [{ type: 'user.message', content: [{ type: 'text', text: 'make a big file' }] }],
  });
  await collectEvents(h.longhaul, session.id, isIdle);
  const events = await assertGaplessLog(h.store, session.id);

  const results = events.flatMap((e) => (e.type === 'agent.tool_result' ? [e] : []));
  assert.equal(results.length, 2);
  const [full, freed] = results;
  const textOf = (r: (typeof results)[number]) => (r.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
  assert.equal(full!.is_error, true);
  assert.match(textOf(full!), /No space left on device[\s\S]*the session's disk is full/);
  assert.deepEqual([freed!.is_error, textOf(freed!).trim()], [false, 'freed']);

  const errors = events.flatMap((e) => (e.type === 'session.error' ? [e.error] : []));
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.equal(errors[0]!.type, 'unknown_error');
  assert.match(errors[0]!.message, /the session's disk is full \(\d+ bytes free of its \d+ MiB quota\)/);
  assert.equal(events.at(-1)?.type, 'session.status_idle');
});
