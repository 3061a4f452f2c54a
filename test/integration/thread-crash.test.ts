/**
 * Threads under crashes and at length: a worker killed while three specialists and a
 * grader work loses and repeats nothing; a specialist's own history stays bounded over
 * hundreds of steps (each thread continues as new on its own).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RosterMember } from '../../src/schemas/agent.ts';
import { lastToolResults, lastUserText, text, toolUse, type ScriptFunction, type ScriptedRequest } from '../../src/testing/index.ts';
import { assertGaplessLog, bashInSandbox, collectEvents, isIdle, startHarness } from '../support/harness.ts';
import { crashServers } from '../support/crash-servers.ts';
import { kill9 } from '../support/worker-processes.ts';

const servers = crashServers();
const tuning = { modelHeartbeatTimeoutMs: 3000, toolHeartbeatTimeoutMs: 3000 };
const toolset = [{ type: 'agent_toolset_20260401' as const }];

function member(name: string, extra: Partial<RosterMember> = {}): RosterMember {
  return { agent_id: `agent_${name}`, version: 1, name, description: `${name} specialist`, self: false, definition: { name, model: 'claude-haiku-5-5', system: `ROLE:${name}`, tools: toolset }, ...extra };
}
const roleOf = (request: ScriptedRequest) => /ROLE:(\w+)/.exec(JSON.stringify(request.system ?? ''))?.[1] ?? (JSON.stringify(request.system ?? '').includes('You are the grader') ? 'grader' : 'coordinator');

test('kill -9 of the worker while three specialists and a grader run: every thread finishes, nothing is duplicated, each tool ran once', async () => {
  const names = ['alpha', 'beta', 'gamma'];
  const script: ScriptFunction = (request) => {
    const role = roleOf(request);
    if (role === 'grader') return { content: [text(JSON.stringify({ result: 'satisfied', explanation: 'three lines' }))] };
    if (role === 'coordinator') {
      const reports = JSON.stringify(request.messages).match(/Message from thread/g)?.length ?? 0;
      if (reports === 0 && lastToolResults(request).length === 0) return { content: names.map((name) => toolUse('delegate_to_agent', { agent: name, message: `append your name, ${name}` })) };
      return { content: [text(reports >= 3 ? 'all three reported' : 'waiting')] };
    }
    // A specialist: one slow tool call with a side effect, then its answer.
    return lastToolResults(request).length === 0
      ? { content: [toolUse('bash', { command: `sleep 4; echo ${role} >> /workspace/side-effects.txt` })] }
      : { content: [text(`${role} appended`)] };
  };
  await using h = await startHarness({ temporal: servers.temporal, script, worker: false, postgresUrl: servers.postgres.url });
  let worker = await servers.startWorker(h);
  try {
    const session = await h.longhaul.sessions.create({
      agent: { name: 'coordinator', model: 'claude-sonnet-5-5', system: 'ROLE-less coordinator', tools: toolset, roster: names.map((name) => member(name)) },
      tuning,
      events: [{ type: 'user.define_outcome', description: 'Three names appended', rubric: { type: 'text', content: 'three lines' } }],
    });
    // Kill the worker once every specialist is inside its 4-second tool call.
    const deadline = Date.now() + 60_000;
    let threads = await h.store.threads.list(session.id);
    while (Date.now() < deadline) {
      threads = await h.store.threads.list(session.id);
      const busy = await Promise.all(threads.map(async (t) => (await h.store.listEvents(t.id, { types: ['agent.tool_use'] })).length > 0));
      if (threads.length === 3 && busy.every(Boolean)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(threads.length, 3);
    await kill9(worker);
    worker = await servers.startWorker(h);

    const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 180_000 });
    await assertGaplessLog(h.store, session.id);
    for (const thread of threads) {
      const log = await assertGaplessLog(h.store, thread.id);
      assert.equal(log.filter((e) => e.type === 'agent.tool_result').length, 1, `${thread.agentName}: one tool result`);
      assert.equal(log.filter((e) => e.type === 'session.thread_created').length, 1);
      assert.equal(log.at(-1)?.type, 'session.thread_status_idle', `${thread.agentName} finished`);
    }
    // Each tool ran exactly once: one line per specialist in the shared workspace.
    const lines = (await bashInSandbox(h, session.id, 'cat /workspace/side-effects.txt')).trim().split('\n').sort();
    assert.deepEqual(lines, [...names].sort());
    assert.equal(events.filter((e) => e.type === 'agent.thread_message_received').length, 3, 'three reports, once each');
    assert.equal(events.filter((e) => e.type === 'session.thread_created').length, 3);
    const ends = events.filter((e) => e.type === 'span.outcome_evaluation_end');
    assert.equal(ends.length, 1);
    assert.ok(ends[0]?.type === 'span.outcome_evaluation_end' && ends[0].result === 'satisfied');
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
  } finally {
    await kill9(worker).catch(() => {});
  }
});

test('a 300-step specialist: its thread continues as new on its own, its history stays bounded, and its answer reaches the coordinator', async () => {
  const STEPS = 300;
  const MAX_HISTORY_EVENTS = 400;
  const script: ScriptFunction = (request) => {
    if (roleOf(request) === 'coordinator') {
      if (JSON.stringify(request.messages).includes('Message from thread')) return { content: [text(`coordinator heard: ${lastUserText(request).slice(0, 200)}`)] };
      // One delegation, then wait for its report.
      return lastToolResults(request).length === 0 ? { content: [toolUse('delegate_to_agent', { agent: 'worker', message: 'count' })] } : { content: [text('waiting')] };
    }
    const done = (JSON.stringify(request.messages).match(/"tool_result"/g) ?? []).length;
    return done < STEPS ? { content: [toolUse('bash', { command: `echo step ${done}` })] } : { content: [text(`counted to ${done}`)] };
  };
  await using h = await startHarness({ temporal: servers.temporal, script, postgresUrl: servers.postgres.url });
  const session = await h.longhaul.sessions.create({
    agent: { name: 'coordinator', model: 'claude-sonnet-5-5', tools: toolset, roster: [member('worker')] },
    tuning: { maxHistoryEvents: MAX_HISTORY_EVENTS },
    events: [{ type: 'user.message', content: [{ type: 'text', text: 'delegate the counting' }] }],
  });
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 15 * 60_000 });
  const report = events.find((e) => e.type === 'agent.thread_message_received');
  assert.match(JSON.stringify(report), new RegExp(`counted to ${STEPS}`));
  const threads = await h.store.threads.list(session.id);
  assert.equal(threads.length, 1, 'one thread did the counting');
  const [thread] = threads;
  const log = await assertGaplessLog(h.store, thread!.id);
  assert.equal(log.filter((e) => e.type === 'agent.tool_result').length, STEPS);

  const runs = [];
  for await (const run of h.client.workflow.list({ query: `WorkflowId = '${thread!.id}'` })) runs.push(run);
  process.stderr.write(`thread history per run: ${JSON.stringify(runs.map((r) => r.historyLength))}\n`);
  assert.ok(runs.length >= 3, `the thread continued as new (runs: ${runs.length})`);
  for (const run of runs) assert.ok(run.historyLength <= MAX_HISTORY_EVENTS + 40, `run history ${run.historyLength} events`);
  const sessionRuns = [];
  for await (const run of h.client.workflow.list({ query: `WorkflowId = '${session.id}'` })) sessionRuns.push(run);
  assert.ok(sessionRuns.every((r) => r.historyLength <= MAX_HISTORY_EVENTS + 40), "the coordinator's history stays small while it waits");
});
