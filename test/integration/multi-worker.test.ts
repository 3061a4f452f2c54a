import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LOW_LATENCY_DYNAMIC_CONFIG, type DevServer } from '../../src/temporal/dev-server.ts';
import { text, toolUse, userMessage } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness, startTestTemporal } from '../support/harness.ts';

// Two workers on one task queue and store, as on a cluster. This server dispatches no activity
// eagerly (a production server's default), so the activity that carries a message's yield or
// an interrupt lands on either worker, not always on the one that runs the model call.

const agent = { name: 'coder', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal({ dynamicConfig: { ...LOW_LATENCY_DYNAMIC_CONFIG, 'system.enableActivityEagerExecution': false } });
});
after(async () => {
  await temporal.stop();
});

test('two workers: every message sent during a run of steps reaches the next model request, whichever worker hears of it', async () => {
  const messages = Array.from({ length: 8 }, (_, i) => `message-${i}`);
  await using h = await startHarness({
    temporal,
    script: (request) => {
      const said = JSON.stringify(request.messages);
      // A step outlasts the yield's trip to the worker: the run it is in ends after it.
      if (!messages.every((m) => said.includes(m))) return { content: [toolUse('bash', { command: 'sleep 0.4' })] };
      return { content: [text('heard them all')] };
    },
  });
  await h.startWorker();
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('go')], tuning: { stepsPerActivity: 8 } });
  const firstRequestWith = (m: string) => h.model.calls.findIndex((call) => JSON.stringify(call.body.messages).includes(m));
  for (const m of messages) {
    const toolUses = (await h.store.listEvents(session.id, { types: ['agent.tool_use'] })).length;
    await collectEvents(h.longhaul, session.id, (_e, all) => all.filter((e) => e.type === 'agent.tool_use').length > toolUses);
    const requestsBefore = h.model.calls.length;
    await h.longhaul.events.send(session.id, [userMessage(m)]);
    while (firstRequestWith(m) === -1) await new Promise((resolve) => setTimeout(resolve, 20));
    // The request after the step in progress, or the one after that when the step's tools had just
    // ended; a yield that missed the call leaves the message for the end of the run, up to eight steps on.
    assert.ok(firstRequestWith(m) <= requestsBefore + 1, `${m} sent after request ${requestsBefore - 1}, first seen in request ${firstRequestWith(m)}`);
  }
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
  assert.equal(events.filter((e) => e.type === 'agent.message').length, 1);
  await assertGaplessLog(h.store, session.id);
});

test('two workers: every interrupt while the model answers stops the request in the worker that runs it, not through Temporal\'s cancellation', async () => {
  const rounds = 6;
  // Every answer would take a minute.
  await using h = await startHarness({ temporal, script: () => ({ content: [text('slow answer')], delayMs: 60_000 }) });
  await h.startWorker();
  const session = await h.longhaul.sessions.create({ agent });
  let after: string | undefined;
  for (let round = 0; round < rounds; round++) {
    const requests = h.model.calls.length;
    await h.longhaul.events.send(session.id, [userMessage(`round ${round}`)]);
    while (h.model.calls.length === requests) await new Promise((resolve) => setTimeout(resolve, 20));
    await h.longhaul.interrupt(session.id);
    const turn = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 30_000, ...(after ? { after } : {}) });
    after = turn.at(-1)!.id;
  }
  const events = await assertGaplessLog(h.store, session.id);
  assert.equal(events.filter((e) => e.type === 'session.status_idle').length, rounds);
  assert.equal(events.filter((e) => e.type === 'agent.message').length, 0, 'no slow answer arrived');
  assert.equal(h.model.calls.length, rounds, 'one request a round: none started again after its interrupt');
  // Stopped where it ran, the model call's activity completed; one stopped by Temporal's
  // cancellation (delivered with a heartbeat) would have ended cancelled.
  const history = await h.client.workflow.getHandle(session.id).fetchHistory();
  assert.equal(history.events?.filter((e) => e.activityTaskCanceledEventAttributes).length, 0);
});
