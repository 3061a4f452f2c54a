import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import type { SessionEvent } from '../../src/schemas/events.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { text, toolUse, userMessage } from '../../src/testing/index.ts';
import { findSessionContainerId, waitForSandboxProcess } from '../support/docker.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness, startTestTemporal } from '../support/harness.ts';

const agent = { name: 'coder', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };
const stopReasonOf = (e: SessionEvent | undefined) => (e?.type === 'session.status_idle' ? e.stop_reason : undefined);
const textOf = (e: { content?: { type: string; text?: string }[] | null } | undefined) => (e?.content ?? []).map((b) => b.text ?? '').join('');

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

test('a 429 is retried after its retry-after, reported as a retrying session.error', async () => {
  await using h = await startHarness({ temporal, script: [{ fault: 'rate_limited', retryAfterSeconds: 2 }, { content: [text('hello after the wait')] }] });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('hi')] });
  const events = await collectEvents(h.longhaul, session.id, isIdle);
  const error = events.find((e) => e.type === 'session.error');
  assert.ok(error?.type === 'session.error');
  assert.equal(error.error.type, 'model_rate_limited_error');
  assert.deepEqual(error.error.retry_status, { type: 'retrying' });
  assert.equal(textOf(events.find((e) => e.type === 'agent.message') as never), 'hello after the wait');
  assert.deepEqual(stopReasonOf(events.at(-1)), { type: 'end_turn' });
  const [first, second] = h.model.calls;
  const waitedMs = second!.receivedAtMs - first!.receivedAtMs;
  assert.ok(waitedMs >= 1900, `retried after ${waitedMs} ms, expected the 2 s retry-after`);
  // The failed attempt's span is closed as an error; the retry has its own span.
  const ends = events.filter((e) => e.type === 'span.model_request_end');
  assert.deepEqual(ends.map((e) => e.type === 'span.model_request_end' && e.is_error), [true, false]);
  await assertGaplessLog(h.store, session.id);
});

test('a 400 ends the turn with an exhausted session.error; the session takes the next message', async () => {
  await using h = await startHarness({ temporal, script: [{ fault: 'bad_request', message: 'messages: too long' }, { content: [text('working again')] }] });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('hi')] });
  const turn1 = await collectEvents(h.longhaul, session.id, isIdle);
  const error = turn1.find((e) => e.type === 'session.error');
  assert.ok(error?.type === 'session.error');
  assert.equal(error.error.type, 'model_request_failed_error');
  assert.deepEqual(error.error.retry_status, { type: 'exhausted' });
  assert.match(error.error.message, /400.*messages: too long/);
  const idle = turn1.at(-1);
  assert.ok(idle?.type === 'session.status_idle');
  assert.deepEqual(idle.stop_reason, { type: 'retries_exhausted' });
  assert.equal(h.model.callCount, 1, 'a 400 is not retried');

  await h.longhaul.events.send(session.id, [userMessage('try again')]);
  const turn2 = await collectEvents(h.longhaul, session.id, isIdle, { after: idle.id });
  assert.equal(textOf(turn2.find((e) => e.type === 'agent.message') as never), 'working again');
  await assertGaplessLog(h.store, session.id);
});

test('user.interrupt stops a running tool: the process dies and the session idles, then takes the next message', async () => {
  await using h = await startHarness({
    temporal,
    script: [{ content: [toolUse('bash', { command: 'sleep 60; echo finished > /workspace/late.txt' })] }, { content: [text('ok, stopped')] }],
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('sleep')] });
  await collectEvents(h.longhaul, session.id, (e) => e.type === 'agent.tool_use');
  // The tool is running once its process shows up in the container.
  const deadline = Date.now() + 30_000;
  const processes = async () => {
    try {
      return execFileSync('docker', ['exec', await findSessionContainerId(session.id), 'ps', '-eo', 'args']).toString();
    } catch {
      return ''; // the container is still starting
    }
  };
  while (!/sleep 60/.test(await processes()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const containerId = await findSessionContainerId(session.id);
  assert.match(await processes(), /sleep 60/);
  const interruptedAt = Date.now();
  await h.longhaul.interrupt(session.id);
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 20_000 });
  const elapsedMs = Date.now() - interruptedAt;
  assert.ok(elapsedMs < 10_000, `idle ${elapsedMs} ms after the interrupt`);
  assert.doesNotMatch(execFileSync('docker', ['exec', containerId, 'ps', '-eo', 'args']).toString(), /sleep 60/, 'the sleep is gone');
  const result = events.find((e) => e.type === 'agent.tool_result');
  assert.ok(result?.type === 'agent.tool_result' && result.is_error === true, 'the interrupted call reports an error result');
  assert.ok(events.some((e) => e.type === 'user.interrupt'));
  assert.deepEqual(stopReasonOf(events.at(-1)), { type: 'end_turn' });

  await h.longhaul.events.send(session.id, [userMessage('next')]);
  const turn2 = await collectEvents(h.longhaul, session.id, isIdle, { after: events.at(-1)!.id });
  assert.equal(textOf(turn2.find((e) => e.type === 'agent.message') as never), 'ok, stopped');
  // The model saw the interrupted call as an error result.
  const lastCall = h.model.calls.at(-1)!.body;
  assert.match(JSON.stringify(lastCall.messages), /is_error":true/);
  await assertGaplessLog(h.store, session.id);
});

test('docker kill of the sandbox mid-session: rescheduled, completed on a new container, /workspace kept', async () => {
  await using h = await startHarness({
    temporal,
    script: (request, { callIndex }) => {
      if (callIndex === 0) return { content: [toolUse('bash', { command: 'echo keep-me > /workspace/kept.txt' })] };
      if (callIndex === 1) return { content: [toolUse('bash', { command: 'sleep 30' })] };
      if (callIndex === 2) return { content: [toolUse('bash', { command: 'cat /workspace/kept.txt' })] };
      return { content: [text(`done: ${JSON.stringify(request.messages.at(-1))}`)] };
    },
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('go')] });
  await collectEvents(h.longhaul, session.id, (e, all) => all.filter((x) => x.type === 'agent.tool_use').length === 2);
  // Killed while the second call runs in it (a fixed pause could land before, on a busy machine).
  const before = await waitForSandboxProcess(session.id, /sleep 30/);
  execFileSync('docker', ['kill', before]);
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 90_000 });
  const types = events.map((e) => e.type);
  assert.ok(types.includes('session.status_rescheduled'), types.join(' '));
  assert.ok(types.indexOf('session.status_running', types.indexOf('session.status_rescheduled')) > 0, 'running again after the reschedule');
  const results = events.filter((e) => e.type === 'agent.tool_result');
  assert.equal(textOf(results.at(-1) as never).trim(), 'keep-me');
  assert.notEqual(await findSessionContainerId(session.id), before, 'a new container');
  assert.deepEqual(stopReasonOf(events.at(-1)), { type: 'end_turn' });
  await assertGaplessLog(h.store, session.id);
});

test('"stop, do this instead": an interrupt sent with a new message idles the turn and starts the next one with the message', async () => {
  await using h = await startHarness({
    temporal,
    script: (request, { callIndex }) => {
      if (callIndex === 0) return { content: [toolUse('bash', { command: 'sleep 60' })] };
      return { content: [text(`new task: ${JSON.stringify(request.messages.at(-1)).includes('do this instead')}`)] };
    },
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('sleep')] });
  await collectEvents(h.longhaul, session.id, (e) => e.type === 'agent.tool_use');
  const [interrupt, message] = await h.longhaul.events.send(session.id, [{ type: 'user.interrupt' }, userMessage('do this instead')]);
  const events = await collectEvents(h.longhaul, session.id, (e, all) => all.filter(isIdle).length === 2, { timeoutMs: 30_000 });
  const idles = events.filter((e) => e.type === 'session.status_idle');
  assert.deepEqual(idles.map(stopReasonOf), [{ type: 'end_turn' }, { type: 'end_turn' }]);
  assert.equal(textOf(events.findLast((e) => e.type === 'agent.message') as never), 'new task: true');
  // The sent events carry the ids they have in the log.
  assert.ok(events.some((e) => e.id === interrupt?.id && e.type === 'user.interrupt'));
  assert.ok(events.some((e) => e.id === message?.id && e.type === 'user.message'));
  await assertGaplessLog(h.store, session.id);
});

test('an interrupt while the model is still answering stops the request in the worker (not at a later heartbeat); the message sent with it is answered next', async () => {
  await using h = await startHarness({
    temporal,
    script: (request, { callIndex }) => {
      // The first answer would take a minute.
      if (callIndex === 0) return { content: [text('slow answer')], delayMs: 60_000 };
      return { content: [text(`answering: ${JSON.stringify(request.messages.at(-1)).includes('do this instead')}`)] };
    },
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('think')] });
  while (h.model.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await h.longhaul.events.send(session.id, [{ type: 'user.interrupt' }, userMessage('do this instead')]);
  const events = await collectEvents(h.longhaul, session.id, (e, all) => all.filter(isIdle).length === 2, { timeoutMs: 30_000 });
  assert.deepEqual(events.filter((e) => e.type === 'session.status_idle').map(stopReasonOf), [{ type: 'end_turn' }, { type: 'end_turn' }]);
  const answers = events.filter((e) => e.type === 'agent.message').map((e) => textOf(e as never));
  assert.deepEqual(answers, ['answering: true'], 'the slow answer never arrived; the new message was answered');
  const spans = events.filter((e) => e.type === 'span.model_request_end');
  assert.deepEqual(spans.map((e) => e.type === 'span.model_request_end' && e.is_error), [true, false]);
  // Stopped by the interrupt's own activity, which reached the call in this worker: the model
  // call's activity completed. A stop that waited for Temporal's cancellation (delivered with
  // a heartbeat, every 24 s at production settings) would have ended it as cancelled.
  const history = await h.client.workflow.getHandle(session.id).fetchHistory();
  assert.equal(history.events?.filter((e) => e.activityTaskCanceledEventAttributes).length, 0);
  await assertGaplessLog(h.store, session.id);
});

test('an interrupt during the turn\'s first model request idles the session, and no model request follows until the next message, which sees both', async () => {
  await using h = await startHarness({
    temporal,
    script: (request, { callIndex }) => {
      if (callIndex === 0) return { content: [text('slow answer')], delayMs: 60_000 };
      const said = JSON.stringify(request.messages);
      return { content: [text(`think: ${said.includes('think')}, next: ${said.includes('next')}`)] };
    },
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('think')] });
  while (h.model.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await h.longhaul.interrupt(session.id);
  const turn1 = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 30_000 });
  await h.longhaul.events.send(session.id, [userMessage('next')]);
  // Until an answer that saw the new message: a turn started by itself after the interrupt answers too, and is counted below.
  const turn2 = await collectEvents(h.longhaul, session.id, (e, all) => isIdle(e) && all.some((x) => x.type === 'agent.message' && textOf(x as never).includes('next: true')), { after: turn1.at(-1)!.id, timeoutMs: 30_000 });
  const events = [...turn1, ...turn2];
  assert.deepEqual(events.filter((e) => e.type === 'session.status_idle').map(stopReasonOf), [{ type: 'end_turn' }, { type: 'end_turn' }]);
  assert.deepEqual(events.filter((e) => e.type === 'agent.message').map((e) => textOf(e as never)), ['think: true, next: true'], 'one answer, to both messages');
  assert.equal(h.model.callCount, 2, 'the interrupted request, then the next message\'s');
  // The interrupted message is in the log once, before the interrupt.
  const types = events.map((e) => e.type);
  assert.equal(events.filter((e) => e.type === 'user.message').length, 2);
  assert.ok(types.indexOf('user.message') < types.indexOf('user.interrupt'), types.join(' '));
  await assertGaplessLog(h.store, session.id);
});

test("docker kill of the sandbox under a specialist thread: the thread is rescheduled and runs again on a new container; the session's stream hears of it", async () => {
  const member = { agent_id: 'agent_011Cworker', version: 1, name: 'worker', description: null, self: false, definition: { ...agent, name: 'worker', system: 'ROLE:worker' } };
  await using h = await startHarness({
    temporal,
    script: (request) => {
      const said = JSON.stringify(request.messages);
      if (!JSON.stringify(request.system ?? '').includes('ROLE:worker')) {
        if (said.includes('Message from thread')) return { content: [text('coordinator done')] };
        return said.includes('Started thread') ? { content: [text('waiting')] } : { content: [toolUse('delegate_to_agent', { agent: 'worker', message: 'sleep a while' })] };
      }
      return said.includes('tool_result') ? { content: [text('worker done')] } : { content: [toolUse('bash', { command: 'sleep 30' })] };
    },
  });
  const session = await h.longhaul.sessions.create({ agent: { ...agent, roster: [member] }, events: [userMessage('go')] });
  const deadline = Date.now() + 60_000;
  let thread;
  while (Date.now() < deadline) {
    [thread] = await h.store.threads.list(session.id);
    if (thread && (await h.store.listEvents(thread.id, { types: ['agent.tool_use'] })).length > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Killed while the thread's call runs in it: a kill while the container still starts is a
  // failed start (an error result), not the lost sandbox this test is about.
  const before = await waitForSandboxProcess(session.id, /sleep 30/);
  execFileSync('docker', ['kill', before]);
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
  const threadLog = (await assertGaplessLog(h.store, thread!.id)).map((e) => e.type);
  assert.ok(threadLog.includes('session.thread_status_rescheduled'), threadLog.join(' '));
  assert.ok(threadLog.indexOf('session.thread_status_running', threadLog.indexOf('session.thread_status_rescheduled')) > 0, 'running again after the reschedule');
  assert.ok(events.some((e) => e.type === 'session.thread_status_rescheduled' && e.session_thread_id === thread!.id && e.agent_name === 'worker'), 'cross-posted to the session');
  assert.ok(!events.some((e) => e.type === 'session.status_rescheduled'), 'the session itself was not rescheduled');
  assert.notEqual(await findSessionContainerId(session.id), before, 'a new container');
  await assertGaplessLog(h.store, session.id);
});
