/**
 * Every request the model endpoint answered is billed, so it counts in the session's
 * usage: an attempt cut off by a kill -9 of its worker or by a broken stream is counted
 * with what the endpoint reported for it, next to the retry that succeeded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { usageOf as apiUsageOf } from '../../src/client/session-state.ts';
import { formatCents } from '../../src/core/budget.ts';
import { listCostNanos } from '../../src/core/model-pricing.ts';
import type { SessionEvent } from '../../src/schemas/events.ts';
import { text, toolUse, type RecordedCall, type ReportedUsage, type ScriptFunction, type ScriptedRequest, type ScriptedTurn } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness, type Harness } from '../support/harness.ts';
import { crashServers } from '../support/crash-servers.ts';
import { kill9 } from '../support/worker-processes.ts';

const MODEL = 'claude-sonnet-5-5';
const agent = { name: 'coder', model: MODEL, tools: [] };
// Short heartbeat timeouts so a killed worker's call is handed to the next worker in seconds.
const tuning = { modelHeartbeatTimeoutMs: 3000, toolHeartbeatTimeoutMs: 3000 };

const servers = crashServers();

const ZERO: ReportedUsage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

function sum(usages: readonly ReportedUsage[]): ReportedUsage {
  return usages.reduce(
    (total, u) => ({
      input_tokens: total.input_tokens + u.input_tokens,
      output_tokens: total.output_tokens + u.output_tokens,
      cache_creation_input_tokens: total.cache_creation_input_tokens + u.cache_creation_input_tokens,
      cache_read_input_tokens: total.cache_read_input_tokens + u.cache_read_input_tokens,
    }),
    ZERO,
  );
}

/** What the scripted endpoint told its clients, request by request: what the session was billed. */
const reported = (calls: readonly RecordedCall[]): ReportedUsage[] => calls.map((call) => call.reportedUsage ?? ZERO);

/** The session's usage, as its last `session.usage` event (the workflow's totals), the API's session resource and the client report it, equals what the endpoint billed. */
async function assertUsageIsBilled(h: Harness, sessionId: string, events: SessionEvent[]): Promise<void> {
  const billed = reported(h.model.calls);
  const total = sum(billed);
  const listCost = formatCents(billed.reduce((nanos, u) => nanos + listCostNanos(MODEL, u), 0));

  const last = events.findLast((e) => e.type === 'session.usage');
  assert.ok(last?.type === 'session.usage', 'a session.usage event was written');
  const expectedEventUsage = {
    input_tokens: total.input_tokens,
    output_tokens: total.output_tokens,
    cache_read_input_tokens: total.cache_read_input_tokens,
    cache_creation: { ephemeral_5m_input_tokens: total.cache_creation_input_tokens },
    list_cost: { amount: listCost, currency: 'USD' },
  };
  assert.deepEqual(last.usage, expectedEventUsage, 'the last session.usage event counts every answered request, at list price');
  assert.deepEqual(await apiUsageOf(h.store, sessionId), expectedEventUsage, "the API's session resource reports the same");
  const { active_seconds: _active, ...retrieved } = (await h.longhaul.sessions.retrieve(sessionId)).usage;
  assert.deepEqual(retrieved, expectedEventUsage, "the session's usage counts every answered request");

  // Each model request (permission judgements have none) is reported by exactly one span: none lost, none counted twice.
  const modelRequests = h.model.calls.filter((call) => call.stream);
  const spans = events.flatMap((e) => (e.type === 'span.model_request_end' ? [e] : []));
  assert.equal(spans.length, modelRequests.length, 'one closed span per model request');
  assert.deepEqual(sum(spans.map((e) => e.model_usage)), sum(reported(modelRequests)), 'the spans add up to what the model requests reported');
}

const isJudgement = (request: ScriptedRequest) => JSON.stringify(request.system ?? '').includes('You review one tool call');

test('a model call whose worker is killed mid-stream is billed: its message_start usage counts next to the retry', async () => {
  const slow: ScriptedTurn = {
    content: [text('A long, carefully considered answer that the worker never lives to store.')],
    usage: { input_tokens: 1200, cache_read_input_tokens: 3400, cache_creation_input_tokens: 560, output_tokens: 78 },
    // About 8 s of stream; the worker is killed a second or two in, after message_start.
    eventDelayMs: 1000,
  };
  const script: ScriptFunction = (_request, { callIndex }) =>
    callIndex === 0 ? slow : { content: [text('done')], usage: { input_tokens: 1250, cache_read_input_tokens: 3400, cache_creation_input_tokens: 0, output_tokens: 9 } };
  await using h = await startHarness({ temporal: servers.temporal, script, worker: false, postgresUrl: servers.postgres.url });
  let worker = await servers.startWorker(h);
  try {
    const session = await h.longhaul.sessions.create({ agent, tuning, events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }] });
    const [first] = await h.model.waitForCalls(1, { timeoutMs: 60_000 });
    // message_start goes out at once; give the worker a moment with it, then kill it mid-stream.
    await new Promise((r) => setTimeout(r, 1500));
    await kill9(worker);
    worker = await servers.startWorker(h);

    const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
    assert.equal(h.model.callCount, 2, 'the killed call was retried once');
    assert.equal(first?.reportedUsage?.output_tokens, 1, 'the killed request got as far as message_start (provisional output) and no further');
    await assertUsageIsBilled(h, session.id, events);

    const crashed = events.find((e) => e.type === 'span.model_request_end' && e.is_error);
    assert.ok(crashed?.type === 'span.model_request_end', 'the crashed attempt has a closed span');
    assert.deepEqual(crashed.model_usage, first?.reportedUsage, "the crashed attempt's span carries what the endpoint reported for it");
    assert.ok(crashed.model_usage.input_tokens > 0);
    await assertGaplessLog(h.store, session.id);
  } finally {
    await kill9(worker).catch(() => {});
  }
});

test('streams that break after message_start are billed: an error after message_delta and a disconnect count next to the retry that succeeds', async () => {
  const script: ScriptedTurn[] = [
    // Everything but message_stop (message_delta included, with the output so far), then an SSE error.
    { fault: 'error_mid_stream', afterEvents: 100 },
    // message_start only, then the connection drops.
    { fault: 'disconnect_mid_stream', afterEvents: 1 },
    { content: [text('recovered')], usage: { input_tokens: 900, cache_read_input_tokens: 2000, cache_creation_input_tokens: 120, output_tokens: 5 } },
  ];
  await using h = await startHarness({ temporal: servers.temporal, script, postgresUrl: servers.postgres.url });
  const session = await h.longhaul.sessions.create({ agent, tuning, events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }] });
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
  assert.equal(h.model.callCount, 3);
  h.model.assertNoUnscriptedCalls();
  const [errored, dropped] = h.model.calls;
  assert.ok((errored?.reportedUsage?.output_tokens ?? 0) > 1, 'the errored stream reported output in its message_delta');
  assert.equal(dropped?.reportedUsage?.output_tokens, 1, 'the dropped stream got as far as message_start');
  await assertUsageIsBilled(h, session.id, events);

  const failed = events.flatMap((e) => (e.type === 'span.model_request_end' && e.is_error ? [e.model_usage] : []));
  assert.deepEqual(failed, [errored?.reportedUsage, dropped?.reportedUsage], "each failed attempt's span carries the usage its stream reported");
});

test('a worker killed between permission judgements: the finished answer and the judgement it got are billed, next to the retry', async () => {
  let deployJudgements = 0;
  let mainCalls = 0;
  const script: ScriptFunction = (request) => {
    if (isJudgement(request)) {
      const deploy = JSON.stringify(request.messages).includes('make deploy');
      // The dead attempt's second judgement is still being thought about when its worker is killed.
      const slow = deploy && deployJudgements++ === 0;
      return {
        content: [text('{"decision": "deny", "reason_code": "not_needed"}')],
        usage: { input_tokens: deploy ? 410 : 400, output_tokens: 17 },
        ...(slow ? { delayMs: 20_000 } : {}),
      };
    }
    mainCalls += 1;
    if (mainCalls <= 2) {
      // The first answer and its retry: two commands the `auto` policy leaves to a judgement.
      return {
        content: [toolUse('bash', { command: 'make build > build.log' }), toolUse('bash', { command: 'make deploy > deploy.log' })],
        usage: { input_tokens: 1500, cache_read_input_tokens: 2500, cache_creation_input_tokens: 300, output_tokens: 60 },
      };
    }
    return { content: [text('nothing to do then')], usage: { input_tokens: 1700, cache_read_input_tokens: 2500, output_tokens: 8 } };
  };
  const judged = { ...agent, tools: [{ type: 'agent_toolset_20260401' as const, default_config: { permission_policy: { type: 'auto' as const } } }] };
  await using h = await startHarness({ temporal: servers.temporal, script, worker: false, postgresUrl: servers.postgres.url });
  let worker = await servers.startWorker(h);
  try {
    const session = await h.longhaul.sessions.create({ agent: judged, tuning, events: [{ type: 'user.message', content: [{ type: 'text', text: 'ship it' }] }] });
    // The answer (call 1) and the first judgement (call 2) are done; the second judgement (call 3) hangs.
    await h.model.waitForCalls(3, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 500));
    await kill9(worker);
    worker = await servers.startWorker(h);

    const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
    const [answer, firstJudgement, killedJudgement] = h.model.calls;
    assert.ok(answer?.stream && firstJudgement && !firstJudgement.stream && killedJudgement && !killedJudgement.stream, 'an answer, then two judgements');
    assert.ok(firstJudgement.reportedUsage, 'the first judgement was answered');
    assert.equal(killedJudgement.reportedUsage, undefined, 'the killed judgement was never answered (so never billed)');
    assert.equal(h.model.calls.filter((call) => call.stream).length, 3, 'the dead attempt, its retry, the answer to the denials');
    await assertUsageIsBilled(h, session.id, events);

    const crashed = events.find((e) => e.type === 'span.model_request_end' && e.is_error);
    assert.ok(crashed?.type === 'span.model_request_end');
    assert.deepEqual(crashed.model_usage, answer.reportedUsage, "the dead attempt's span carries its whole answer's usage");
    await assertGaplessLog(h.store, session.id);
  } finally {
    await kill9(worker).catch(() => {});
  }
});
