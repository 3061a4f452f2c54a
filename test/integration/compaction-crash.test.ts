import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SUMMARY_SYSTEM } from '../../src/core/context-summary.ts';
import { lastUserText, reply, toolUse, type ScriptFunction, type ScriptedRequest } from '../../src/testing/index.ts';
import { crashServers } from '../support/crash-servers.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness } from '../support/harness.ts';
import { kill9 } from '../support/worker-processes.ts';

const agent = { model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };
// Short heartbeat timeouts so a killed worker's call is handed to the next worker in seconds.
const tuning = { modelHeartbeatTimeoutMs: 3000, toolHeartbeatTimeoutMs: 3000 };
const context = { contextBudgetBytes: 30_000 };

const servers = crashServers();
const isSummaryRequest = (request: ScriptedRequest) => request.system === SUMMARY_SYSTEM;

test('kill -9 of the worker after a summary is stored, before the answer it made room for: the retry reuses it, nothing is summarised twice', async () => {
  const STEPS = 24;
  let step = 0;
  let summaries = 0;
  let slowed: string | undefined;
  const script: ScriptFunction = (request) => {
    if (isSummaryRequest(request)) return reply(`SUMMARY-${++summaries}: ${lastUserText(request).length} characters summarised`);
    // The first request made after a compaction "thinks" long enough for the worker to be killed under it.
    const summary = /SUMMARY-\d+:/.exec(JSON.stringify(request.messages))?.[0];
    if (slowed === undefined && summary !== undefined) {
      slowed = summary;
      return { ...reply('never recorded'), delayMs: 6000 };
    }
    if (step < STEPS) return reply(`step ${step++} ${'w'.repeat(1_500)}`, toolUse('bash', { command: 'echo ok' }));
    return reply('done');
  };
  await using h = await startHarness({ temporal: servers.temporal, script, worker: false, postgresUrl: servers.postgres.url });
  let worker = await servers.startWorker(h, context);
  try {
    const session = await h.longhaul.sessions.create({ agent, tuning, events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }] });
    await collectEvents(h.longhaul, session.id, (e) => e.type === 'agent.thread_context_compacted', { timeoutMs: 120_000 });
    const slow = () => h.model.calls.some((c) => c.answer.kind === 'reply' && c.answer.turn.content[0]?.type === 'text' && c.answer.turn.content[0].text === 'never recorded');
    for (let waited = 0; !slow() && waited < 30_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    assert.ok(slow(), 'the request after the summary reached the model');
    await kill9(worker);
    // A new worker has no cached transcript: it reads the session from its summary on.
    worker = await servers.startWorker(h, context);

    const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 180_000 });
    const idle = events.at(-1);
    assert.ok(idle?.type === 'session.status_idle');
    assert.deepEqual(idle.stop_reason, { type: 'end_turn' });
    h.model.assertNoUnscriptedCalls();

    const summaryCalls = h.model.calls.filter((c) => isSummaryRequest(c.body));
    const compacted = events.filter((e) => e.type === 'agent.thread_context_compacted');
    assert.equal(compacted.length, summaryCalls.length, 'every summary request was recorded once, none made again for a range already summarised');
    const summarisedRanges = summaryCalls.map((c) => lastUserText(c.body));
    assert.equal(new Set(summarisedRanges).size, summarisedRanges.length, 'no range was summarised twice');
    // The retried call sent the stored summary as the crashed one had: a worker that reads the session afresh builds the same request.
    const withFirst = h.model.calls.filter((c) => !isSummaryRequest(c.body) && JSON.stringify(c.body.messages).includes(slowed!));
    assert.ok(withFirst.length >= 2);
    assert.equal(JSON.stringify(withFirst[0]!.body.messages), JSON.stringify(withFirst[1]!.body.messages), 'the retry sent the same request');
    const messages = events.flatMap((e) => (e.type === 'agent.message' ? e.content.map((b) => (b.type === 'text' ? b.text : '')) : []));
    assert.ok(!messages.includes('never recorded'), "the crashed call's answer was never recorded");
    assert.equal(messages.filter((m) => m.startsWith('step ')).length, STEPS);
    await assertGaplessLog(h.store, session.id);
  } finally {
    await kill9(worker).catch(() => {});
  }
});
