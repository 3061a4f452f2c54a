import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionEvent } from '../../src/schemas/events.ts';
import { text, toolUse, type ScriptFunction } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness } from '../support/harness.ts';
import { crashServers } from '../support/crash-servers.ts';
import { kill9 } from '../support/worker-processes.ts';

const agent = { name: 'coder', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };
// Short heartbeat timeouts so a killed worker's calls are handed to the next worker in seconds.
const tuning = { modelHeartbeatTimeoutMs: 3000, toolHeartbeatTimeoutMs: 3000 };

const servers = crashServers();

/** Every tool_use has exactly one result, every span start exactly one end, no id twice. */
function assertNothingLostOrDuplicated(events: SessionEvent[]): void {
  const uses = events.filter((e) => e.type === 'agent.tool_use').map((e) => e.id);
  const results = events.flatMap((e) => (e.type === 'agent.tool_result' ? [e.tool_use_id] : []));
  assert.deepEqual([...results].sort(), [...uses].sort(), 'one result per tool_use');
  const starts = events.filter((e) => e.type === 'span.model_request_start').map((e) => e.id);
  const ends = events.flatMap((e) => (e.type === 'span.model_request_end' ? [e.model_request_start_id] : []));
  assert.deepEqual([...ends].sort(), [...starts].sort(), 'one end per span start');
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'no event id twice');
}

test('kill -9 of the worker during a tool call and during a model call: a new worker finishes, nothing lost, duplicated or run twice', async () => {
  const script: ScriptFunction = (_request, { callIndex }) => {
    switch (callIndex) {
      case 0:
        // Appends one line per execution: a second run of this tool_use would show as two lines.
        return { content: [toolUse('bash', { command: 'echo ran >> /workspace/runs.txt; sleep 4; echo slept' })] };
      case 1:
        // The worker is killed while this answer is still being "thought about".
        return { content: [text('thinking slowly')], delayMs: 4000 };
      case 2:
        // The retry of the model call after the crash.
        return { content: [toolUse('bash', { command: 'cat /workspace/runs.txt | wc -l' })] };
      default:
        return { content: [text('all done')] };
    }
  };
  await using h = await startHarness({ temporal: servers.temporal, script, worker: false, postgresUrl: servers.postgres.url });
  let worker = await servers.startWorker(h);
  try {
    const session = await h.longhaul.sessions.create({ agent, tuning, events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }] });

    // 1. Kill during the 4 s tool call.
    await collectEvents(h.longhaul, session.id, (e) => e.type === 'agent.tool_use');
    await new Promise((r) => setTimeout(r, 1000));
    await kill9(worker);
    worker = await servers.startWorker(h);

    // 2. Kill during the slow model call (the second request reached the model).
    await h.model.waitForCalls(2, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 500));
    await kill9(worker);
    worker = await servers.startWorker(h);

    const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
    assert.deepEqual(events.at(-1)?.type === 'session.status_idle' ? events.at(-1) : undefined, { ...events.at(-1), stop_reason: { type: 'end_turn' } });
    assertNothingLostOrDuplicated(events);
    const results = events.filter((e) => e.type === 'agent.tool_result');
    const output = (i: number) => {
      const r = results[i];
      return r?.type === 'agent.tool_result' ? (r.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('').trim() : undefined;
    };
    assert.equal(output(0), 'slept', 'the first tool call finished in the sandbox and its result was picked up');
    assert.equal(output(1), '1', 'the tool ran exactly once');
    // The model call interrupted by the crash is closed as an error span and retried once.
    const ends = events.filter((e) => e.type === 'span.model_request_end');
    assert.equal(ends.filter((e) => e.type === 'span.model_request_end' && e.is_error).length, 1);
    const messages = events.flatMap((e) => (e.type === 'agent.message' ? e.content.map((b) => (b.type === 'text' ? b.text : '')) : []));
    assert.deepEqual(messages, ['all done'], "the crashed call's answer was never recorded; the retry's answer was used");
    assert.equal(h.model.callCount, 4);
    await assertGaplessLog(h.store, session.id);
  } finally {
    await kill9(worker).catch(() => {});
  }
});
