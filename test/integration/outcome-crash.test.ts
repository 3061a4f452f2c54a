/**
 * A worker killed while the grader works: the grading moves to a new worker, the
 * outcome gets exactly one verdict per cycle, and the killed grader request is billed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { text, type ScriptFunction, type ScriptedTurn } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness } from '../support/harness.ts';
import { crashServers } from '../support/crash-servers.ts';
import { kill9 } from '../support/worker-processes.ts';

const agent = { name: 'writer', model: 'claude-sonnet-5-5', tools: [] };
const tuning = { modelHeartbeatTimeoutMs: 3000, toolHeartbeatTimeoutMs: 3000 };

const servers = crashServers();

test('kill -9 of the worker while the grader works: one verdict, nothing duplicated, the killed grader request billed', async () => {
  const verdict = JSON.stringify({ result: 'satisfied', explanation: 'all there' });
  const slowGrader: ScriptedTurn = { content: [text(verdict)], usage: { input_tokens: 900, output_tokens: 30 }, eventDelayMs: 1000 };
  let graderCalls = 0;
  const script: ScriptFunction = (request) => {
    if (!JSON.stringify(request.system ?? '').includes('You are the grader')) return { content: [text('the report')], usage: { input_tokens: 100, output_tokens: 5 } };
    graderCalls += 1;
    return graderCalls === 1 ? slowGrader : { content: [text(verdict)], usage: { input_tokens: 910, output_tokens: 31 } };
  };
  await using h = await startHarness({ temporal: servers.temporal, script, worker: false, postgresUrl: servers.postgres.url });
  let worker = await servers.startWorker(h);
  try {
    const session = await h.longhaul.sessions.create({
      agent,
      tuning,
      events: [{ type: 'user.define_outcome', description: 'Report', rubric: { type: 'text', content: 'A report' } }],
    });
    await collectEvents(h.longhaul, session.id, (e) => e.type === 'span.outcome_evaluation_start');
    await h.model.waitForCalls(2, { timeoutMs: 60_000 });
    // The grader's answer is streaming (message_start is out); kill its worker mid-stream.
    await new Promise((r) => setTimeout(r, 1500));
    await kill9(worker);
    worker = await servers.startWorker(h);

    const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
    await assertGaplessLog(h.store, session.id);
    assert.equal(graderCalls, 2, 'the killed grading ran again, once');
    assert.deepEqual(events.filter((e) => e.type === 'span.outcome_evaluation_start').map((e) => e.type === 'span.outcome_evaluation_start' && e.iteration), [0]);
    const ends = events.filter((e) => e.type === 'span.outcome_evaluation_end');
    assert.equal(ends.length, 1, 'one verdict');
    const [end] = ends;
    assert.ok(end?.type === 'span.outcome_evaluation_end');
    assert.equal(end.result, 'satisfied');
    const graderRequests = h.model.calls.filter((call) => JSON.stringify(call.body.system ?? '').includes('You are the grader'));
    const billed = graderRequests.reduce((sum, call) => sum + (call.reportedUsage?.input_tokens ?? 0), 0);
    assert.equal(graderRequests[0]?.reportedUsage?.input_tokens, 900, 'the killed request reported its input at message_start');
    assert.equal(end.usage.input_tokens, billed, 'the cycle is billed for both grader requests');
    const usage = events.findLast((e) => e.type === 'session.usage');
    assert.ok(usage?.type === 'session.usage');
    assert.equal(usage.usage.input_tokens, 100 + billed, "the session's usage has the agent's and both grader requests");
  } finally {
    await kill9(worker).catch(() => {});
  }
});
