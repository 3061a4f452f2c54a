import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SUMMARY_SYSTEM } from '../../src/core/context-summary.ts';
import { SUMMARY_PREAMBLE } from '../../src/core/transcript.ts';
import type { SessionEvent } from '../../src/schemas/events.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastUserText, reply, text, toolUse, type RecordedCall, type ScriptedRequest } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness, startTestTemporal } from '../support/harness.ts';

const agent = { model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };
const TASK = 'TASK-MARKER: write one line per step';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const isSummaryRequest = (request: ScriptedRequest) => request.system === SUMMARY_SYSTEM;
const messagesJson = (call: RecordedCall) => JSON.stringify(call.body.messages);
const lastUsage = (events: SessionEvent[]) => {
  const usage = events.findLast((e) => e.type === 'session.usage');
  assert.ok(usage?.type === 'session.usage', 'a session.usage event was written');
  return usage.usage;
};
/** What the endpoint billed each call: its top-level usage and any compaction it ran (reported among `iterations`). */
const billedInput = (call: RecordedCall) => {
  if (call.answer.kind !== 'reply') return 0;
  const { usage } = call.answer.message;
  const compactions = (usage.iterations ?? []).filter((i) => i.type === 'compaction').reduce((n, i) => n + i.input_tokens, 0);
  return usage.input_tokens + compactions;
};
const finishedTurn = async (events: SessionEvent[]) => {
  const idle = events.at(-1);
  assert.ok(idle?.type === 'session.status_idle');
  return idle.stop_reason;
};

test('a session whose own messages outgrow the budget is summarised: later requests carry the summary, the log stays complete, the summaries are billed', async () => {
  const STEPS = 36;
  let step = 0;
  let summaries = 0;
  await using h = await startHarness({
    temporal,
    context: { contextBudgetBytes: 30_000 },
    script: (request) => {
      if (isSummaryRequest(request)) {
        summaries += 1;
        const steps = [...lastUserText(request).matchAll(/step (\d+) /g)].map((m) => Number(m[1]));
        return reply(`SUMMARY-${summaries}: did steps ${Math.min(...steps)} to ${Math.max(...steps)}`);
      }
      // Each answer says 1.5 KB: text is never cleared like tool output, so only a summary makes room.
      if (step < STEPS) return reply(`step ${step++} ${'w'.repeat(1_500)}`, toolUse('bash', { command: `echo out-${step}` }));
      return reply('done');
    },
  });
  const session = await h.longhaul.sessions.create({ agent, events: [{ type: 'user.message', content: [{ type: 'text', text: TASK }] }] });
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 180_000 });
  assert.deepEqual(await finishedTurn(events), { type: 'end_turn' });
  h.model.assertNoUnscriptedCalls();

  const summaryCalls = h.model.calls.filter((c) => isSummaryRequest(c.body));
  const agentCalls = h.model.calls.filter((c) => !isSummaryRequest(c.body));
  const compacted = events.filter((e) => e.type === 'agent.thread_context_compacted');
  assert.ok(summaryCalls.length >= 2, `summarised ${summaryCalls.length} times`);
  assert.equal(compacted.length, summaryCalls.length, 'one agent.thread_context_compacted per summary');
  // A later summary folds in the one before it.
  assert.match(lastUserText(summaryCalls[1]!.body), /<previous-summary>\nSUMMARY-1: /);

  // Before the first summary the requests hold the task; after it, the summary holds its place.
  const firstSummaryAt = h.model.calls.indexOf(summaryCalls[0]!);
  const after = agentCalls.filter((c) => h.model.calls.indexOf(c) > firstSummaryAt);
  assert.ok(after.length > 0);
  for (const call of after) {
    const json = messagesJson(call);
    assert.ok(!json.includes('TASK-MARKER'), 'the summarised opening is no longer sent');
    assert.ok(json.includes(SUMMARY_PREAMBLE) && /SUMMARY-\d+: did steps/.test(json), 'the summary is sent in its place');
    // Budget plus what assembling messages adds: the request no longer grows with the session.
    assert.ok(json.length < 40_000, `request messages ${json.length} bytes`);
  }
  assert.ok(messagesJson(agentCalls.at(-1)!).includes(`SUMMARY-${summaries}:`), 'the last request carries the latest summary');

  // The log keeps everything the summaries replaced in the requests.
  const log = await assertGaplessLog(h.store, session.id);
  assert.equal(log.filter((e) => e.type === 'agent.message').length, STEPS + 1);
  assert.equal(log.filter((e) => e.type === 'agent.tool_result').length, STEPS);
  assert.ok(log.some((e) => e.type === 'user.message' && JSON.stringify(e.content).includes('TASK-MARKER')));

  // Usage counts the summary requests with the agent's own.
  const usage = lastUsage(events);
  const billed = h.model.calls.reduce((n, c) => n + (c.reportedUsage?.input_tokens ?? 0), 0);
  const summaryInput = summaryCalls.reduce((n, c) => n + (c.reportedUsage?.input_tokens ?? 0), 0);
  assert.ok(summaryInput > 0);
  assert.equal(usage.input_tokens, billed, 'session.usage counts every request the endpoint billed, summaries included');
});

test("server-side compaction: Anthropic's compaction edit is sent, the compaction block comes back verbatim, and its usage is billed", async () => {
  const STEPS = 16;
  let step = 0;
  await using h = await startHarness({
    temporal,
    model: { contextWindowTokens: 80_000 },
    // Compaction at 60,000 tokens (three quarters of the window), before 300 KB of transcript would clear tool outputs.
    context: { serverCompaction: true, contextWindowTokens: 80_000, contextBudgetBytes: 300_000 },
    script: (request) => {
      assert.ok(!isSummaryRequest(request), 'the endpoint compacts: Longhaul writes no summary');
      // 20 KB of output a step: about 5,000 tokens.
      if (step < STEPS) return reply(text(`step ${step++}`), toolUse('bash', { command: "head -c 20000 /dev/zero | tr '\\0' x" }));
      return reply('done');
    },
  });
  const session = await h.longhaul.sessions.create({ agent, events: [{ type: 'user.message', content: [{ type: 'text', text: TASK }] }] });
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 180_000 });
  assert.deepEqual(await finishedTurn(events), { type: 'end_turn' });
  h.model.assertNoUnscriptedCalls();

  for (const call of h.model.calls) {
    assert.match(call.headers['anthropic-beta'] ?? '', /compact-2026-01-12/);
    assert.deepEqual((call.body as { context_management?: unknown }).context_management, { edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: 60_000 } }] });
  }
  const compactedAt = h.model.calls.findIndex((c) => c.answer.kind === 'reply' && c.answer.message.content[0]?.type === 'compaction');
  assert.ok(compactedAt > 0, 'the endpoint compacted once the conversation passed the trigger');
  const compactedCall = h.model.calls[compactedAt]!;
  assert.ok(compactedCall.answer.kind === 'reply');
  const block = compactedCall.answer.message.content[0];
  assert.equal(events.filter((e) => e.type === 'agent.thread_context_compacted').length, 1);

  // Every later request starts with that answer, its compaction block exactly as it came; nothing before it is sent.
  const later = h.model.calls.slice(compactedAt + 1);
  assert.ok(later.length >= 2);
  for (const call of later) {
    const [first] = call.body.messages;
    assert.equal(first?.role, 'assistant');
    assert.ok(Array.isArray(first.content));
    const { cache_control: _breakpoint, ...sent } = first.content[0] as { cache_control?: unknown };
    assert.deepEqual(sent, block);
    assert.ok(!messagesJson(call).includes('TASK-MARKER'));
  }

  const log = await assertGaplessLog(h.store, session.id);
  assert.equal(log.filter((e) => e.type === 'agent.tool_result').length, STEPS);
  const usage = lastUsage(events);
  assert.equal(usage.input_tokens, h.model.calls.reduce((n, c) => n + billedInput(c), 0), 'the compaction the endpoint ran is billed with its request');
});

test('a turn that cannot fit even after compaction stops with compaction_limit_reached_error; the next message recovers', async () => {
  await using h = await startHarness({
    temporal,
    // A window far below what the worker's byte budget assumes: the endpoint is the one that says no.
    model: { contextWindowTokens: 3_000 },
    script: (request) => (isSummaryRequest(request) ? reply('SUMMARY: the user pasted a very long text.') : reply(`answer to: ${lastUserText(request).split('\n').at(-1)?.slice(0, 40)}`)),
  });
  const session = await h.longhaul.sessions.create({ agent, events: [{ type: 'user.message', content: [{ type: 'text', text: `LONG ${'z'.repeat(20_000)}` }] }] });
  const first = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 60_000 });
  assert.deepEqual(await finishedTurn(first), { type: 'retries_exhausted' });
  const error = first.find((e) => e.type === 'session.error');
  assert.ok(error?.type === 'session.error');
  assert.equal(error.error.type, 'compaction_limit_reached_error');
  assert.deepEqual(error.error.retry_status, { type: 'exhausted' });
  assert.match(error.error.message, /cannot be compacted below/);
  assert.equal(first.filter((e) => e.type === 'agent.message').length, 0);

  // The long message is no longer the latest turn: it can be summarised now.
  await h.longhaul.events.send(session.id, [{ type: 'user.message', content: [{ type: 'text', text: 'hello again' }] }]);
  const second = await collectEvents(h.longhaul, session.id, (e, all) => isIdle(e) && all.length > first.length, { timeoutMs: 60_000 });
  assert.deepEqual(await finishedTurn(second), { type: 'end_turn' });
  const answer = second.findLast((e) => e.type === 'agent.message');
  assert.ok(answer?.type === 'agent.message');
  assert.deepEqual(answer.content, [{ type: 'text', text: 'answer to: hello again' }]);
  assert.equal(second.filter((e) => e.type === 'agent.thread_context_compacted').length, 1);
  await assertGaplessLog(h.store, session.id);
  h.model.assertNoUnscriptedCalls();
});
