/**
 * Multi-agent sessions through the official SDK: a coordinator delegates to specialist
 * agents, each a thread (a Temporal child workflow) with its own model, prompt, log and
 * transcript, sharing the session's sandbox; results come back as messages.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type Anthropic from '@anthropic-ai/sdk';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastToolResults, lastUserText, text, toolUse, type ScriptedRequest, type ScriptedTurn } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';
import { idleWith, sessionLog, userText, waitForEvent, type LoggedEvent } from './session-log.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

type Role = 'coordinator' | 'researcher' | 'writer';
const SYSTEMS: Record<Role, string> = {
  coordinator: 'ROLE:coordinator. You split the work.',
  researcher: 'ROLE:researcher. You find facts.',
  writer: 'ROLE:writer. You write files.',
};
const MODELS: Record<Role, string> = { coordinator: 'claude-sonnet-5-5', researcher: 'claude-haiku-5-5', writer: 'claude-opus-5-5' };

function roleOf(request: ScriptedRequest): Role {
  const system = JSON.stringify(request.system ?? '');
  return (Object.keys(SYSTEMS) as Role[]).find((role) => system.includes(`ROLE:${role}`)) ?? 'coordinator';
}

/** A script per role; every request is kept, by role. */
function byRole(scripts: Record<Role, (request: ScriptedRequest, n: number) => ScriptedTurn>) {
  const seen: Record<Role, ScriptedRequest[]> = { coordinator: [], researcher: [], writer: [] };
  const script = (request: ScriptedRequest) => {
    const role = roleOf(request);
    return scripts[role](request, seen[role].push(request) - 1);
  };
  return { script, seen };
}

async function team(f: ApiFixture, { researcherTools, budget }: { researcherTools?: Anthropic.Beta.Agents.AgentCreateParams['tools']; budget?: Anthropic.Beta.Sessions.SessionCreateParams['budget'] } = {}) {
  const toolset = [{ type: 'agent_toolset_20260401' as const }];
  const researcher = await f.client.beta.agents.create({ name: 'researcher', description: 'finds facts', model: MODELS.researcher, system: SYSTEMS.researcher, tools: researcherTools ?? toolset });
  const writer = await f.client.beta.agents.create({ name: 'writer', description: 'writes files', model: MODELS.writer, system: SYSTEMS.writer, tools: toolset });
  const coordinator = await f.client.beta.agents.create({
    name: 'coordinator',
    model: MODELS.coordinator,
    system: SYSTEMS.coordinator,
    tools: toolset,
    multiagent: { type: 'coordinator', agents: [researcher.id, writer.id] },
  } as Anthropic.Beta.Agents.AgentCreateParams);
  const environment = await f.client.beta.environments.create({ name: 'team-env' });
  const session = await f.client.beta.sessions.create({ agent: coordinator.id, environment_id: environment.id, ...(budget ? { budget } : {}) });
  return { session, researcher, writer, coordinator };
}

const ofType = <T extends LoggedEvent['type']>(log: LoggedEvent[], type: T) => log.filter((e): e is Extract<LoggedEvent, { type: T }> => e.type === type);
const toolNames = (request: ScriptedRequest) => (request.tools ?? []).map((t) => ('name' in t ? t.name : ''));

async function threadLog(client: Anthropic, sessionId: string, threadId: string): Promise<LoggedEvent[]> {
  const events: LoggedEvent[] = [];
  for await (const event of client.beta.sessions.threads.events.list(threadId, { session_id: sessionId, limit: 100 })) events.push(event as LoggedEvent);
  return events;
}

test('a coordinator delegates to two specialists that work in parallel, each with its own model and prompt; a file one writes is read by the coordinator; a follow-up reuses the thread', async () => {
  const { script, seen } = byRole({
    coordinator: (request, n) => {
      if (n === 0) {
        return {
          content: [
            toolUse('delegate_to_agent', { agent: 'researcher', message: 'Find the boiling point of water.' }),
            toolUse('delegate_to_agent', { agent: 'writer', message: 'Write the word TEAMWORK to /workspace/notes.txt' }),
          ],
        };
      }
      const said = lastUserText(request);
      if (said.includes('Please ask the researcher again')) {
        const thread = JSON.stringify(request.messages).match(/sthr_[A-Za-z0-9]+/g)?.[0];
        return { content: [toolUse('message_thread', { thread_id: thread, message: 'And the freezing point?' })] };
      }
      if (lastToolResults(request).some((r) => r.text.includes('TEAMWORK'))) return { content: [text('Both done: the file says TEAMWORK.')] };
      // Wait until both reports are in, then read the writer's file.
      const reports = JSON.stringify(request.messages).match(/Message from thread/g)?.length ?? 0;
      if (reports >= 2 && !said.includes('freezing')) return { content: [toolUse('bash', { command: 'cat /workspace/notes.txt' })] };
      return { content: [text(`Noted: ${said.slice(0, 80)}`)] };
    },
    researcher: (request) => {
      if (lastUserText(request).includes('freezing')) return { content: [text('Water freezes at 0 °C.')] };
      if (lastToolResults(request).length === 0) return { content: [toolUse('bash', { command: 'sleep 1; echo researched' })] };
      return { content: [text('Water boils at 100 °C at sea level.')] };
    },
    writer: (request) => {
      if (lastToolResults(request).length === 0) return { content: [toolUse('bash', { command: 'sleep 1; echo TEAMWORK > /workspace/notes.txt' })] };
      return { content: [text('Wrote /workspace/notes.txt.')] };
    },
  });
  await using f = await startApiFixture({ temporal, script });
  const { session, researcher, writer } = await team(f);
  await f.client.beta.sessions.events.send(session.id, { events: [userText('Find the boiling point and write notes.')] });
  let log = await waitForEvent(f.client, session.id, idleWith('end_turn'), { timeoutMs: 90_000 });

  // The coordinator was offered the delegation tools; each specialist runs its own model and prompt, without them.
  assert.ok(toolNames(seen.coordinator[0]!).includes('delegate_to_agent'));
  assert.equal(seen.researcher[0]!.model, MODELS.researcher);
  assert.equal(seen.writer[0]!.model, MODELS.writer);
  assert.ok(!toolNames(seen.researcher[0]!).includes('delegate_to_agent'), 'a specialist without self in the roster does not delegate');
  assert.match(lastUserText(seen.researcher[0]!), /boiling point/);
  assert.ok(!JSON.stringify(seen.researcher[0]!.messages).includes('write notes'), "a specialist does not see the coordinator's conversation");

  // The primary stream: threads created, their status cross-posted, messages both ways, the primary's own thread status.
  const created = ofType(log, 'session.thread_created');
  assert.deepEqual(created.map((e) => e.agent_name).sort(), ['researcher', 'writer']);
  const [researcherThread, writerThread] = ['researcher', 'writer'].map((name) => created.find((e) => e.agent_name === name)!.session_thread_id);
  assert.match(researcherThread!, /^sthr_/);
  assert.deepEqual(ofType(log, 'agent.thread_message_sent').map((e) => e.to_session_thread_id).sort(), [researcherThread, writerThread].sort());
  assert.deepEqual(ofType(log, 'agent.thread_message_received').map((e) => e.from_session_thread_id).sort(), [researcherThread, writerThread].sort());
  const received = ofType(log, 'agent.thread_message_received').find((e) => e.from_session_thread_id === researcherThread)!;
  assert.match(JSON.stringify(received.content), /100 °C/);
  const firstThreadStatus = log.find((e) => e.type.startsWith('session.thread_status_')) as { session_thread_id: string };
  const threads = [];
  for await (const thread of f.client.beta.sessions.threads.list(session.id)) threads.push(thread);
  const primary = threads.find((t) => t.parent_thread_id === null)!;
  assert.equal(firstThreadStatus.session_thread_id, primary.id, "the first thread status event is the primary's (the SDK's tool runner relies on it)");
  for (const thread of [researcherThread, writerThread]) {
    assert.ok(log.some((e) => e.type === 'session.thread_status_idle' && e.session_thread_id === thread), `${thread} idle is cross-posted`);
  }
  // The writer's file, read by the coordinator in the shared /workspace.
  assert.ok(ofType(log, 'agent.message').some((e) => JSON.stringify(e.content).includes('the file says TEAMWORK')));

  // Parallel: each specialist's 1-second tool call overlaps the other's.
  const spanOf = async (threadId: string) => {
    const events = await threadLog(f.client, session.id, threadId);
    const use = ofType(events, 'agent.tool_use')[0]!;
    const result = ofType(events, 'agent.tool_result')[0]!;
    return [Date.parse(use.processed_at!), Date.parse(result.processed_at!)] as const;
  };
  const [r, w] = [await spanOf(researcherThread!), await spanOf(writerThread!)];
  assert.ok(r[0] < w[1] && w[0] < r[1], `the two tool calls overlap: researcher ${r.join('–')}, writer ${w.join('–')}`);

  // Threads: list (primary + 2), retrieve, and each thread's own log.
  assert.equal(threads.length, 3);
  const retrieved = await f.client.beta.sessions.threads.retrieve(researcherThread!, { session_id: session.id });
  assert.equal(retrieved.type, 'session_thread');
  assert.equal(retrieved.parent_thread_id, primary.id);
  assert.equal(retrieved.status, 'idle');
  assert.equal((retrieved.agent as { id?: string }).id, researcher.id);
  assert.equal((retrieved.agent as { name: string }).name, 'researcher');
  assert.ok((retrieved.usage?.input_tokens ?? 0) > 0, 'a thread has its own usage');
  const researcherLog = await threadLog(f.client, session.id, researcherThread!);
  assert.deepEqual(
    researcherLog.slice(0, 3).map((e) => e.type),
    ['session.thread_created', 'agent.thread_message_received', 'session.thread_status_running'],
  );
  assert.ok(!researcherLog.some((e) => e.type === 'agent.thread_message_received' && JSON.stringify(e).includes(writerThread!)), "a thread's log holds its own events only");
  const idle = await f.client.beta.sessions.threads.list(session.id, { statuses: ['idle'] });
  assert.equal(idle.data.length, 3);

  // The session's usage counts the threads' tokens.
  const withUsage = await f.client.beta.sessions.retrieve(session.id);
  assert.ok((withUsage.usage.input_tokens ?? 0) >= (retrieved.usage?.input_tokens ?? 0) + 1);

  // A follow-up reaches the same thread, with its history.
  await f.client.beta.sessions.events.send(session.id, { events: [userText('Please ask the researcher again')] });
  log = await waitForEvent(f.client, session.id, idleWith('end_turn'), { count: 2, timeoutMs: 60_000 });
  assert.equal(ofType(log, 'session.thread_created').length, 2, 'no new thread for a follow-up');
  const followUp = seen.researcher.at(-1)!;
  assert.match(lastUserText(followUp), /freezing/);
  assert.match(JSON.stringify(followUp.messages), /boiling point/, 'the thread kept its history');
  assert.ok(ofType(log, 'agent.thread_message_received').some((e) => JSON.stringify(e.content).includes('0 °C')));

  // Archive: the thread stops and says so in its log and on the primary stream.
  const archived = await f.client.beta.sessions.threads.archive(writerThread!, { session_id: session.id });
  assert.equal(archived.status, 'terminated');
  assert.ok(archived.archived_at);
  await waitForEvent(f.client, session.id, (e) => e.type === 'session.thread_status_terminated' && e.session_thread_id === writerThread);
  assert.equal(ofType(await threadLog(f.client, session.id, writerThread!), 'session.thread_status_terminated').length, 1);
  await assert.rejects(f.client.beta.sessions.threads.archive(primary.id, { session_id: session.id }), (err: { status?: number }) => err.status === 400);
  await assert.rejects(f.client.beta.sessions.threads.retrieve('sthr_011Cnope', { session_id: session.id }), (err: { status?: number }) => err.status === 404);
  writer.id;
});

test("a specialist's always_ask call surfaces on the primary stream with its thread id and is answered there; the thread stream replays its events", async () => {
  const { script } = byRole({
    coordinator: (request, n) => (n === 0 ? { content: [toolUse('delegate_to_agent', { agent: 'researcher', message: 'Check the disk.' })] } : { content: [text(`Final: ${lastUserText(request).slice(0, 120)}`)] }),
    researcher: (request) => (lastToolResults(request).length === 0 ? { content: [toolUse('bash', { command: 'echo APPROVED_RUN' })] } : { content: [text(`Ran it: ${lastToolResults(request)[0]!.text.trim()}`)] }),
    writer: () => ({ content: [text('unused')] }),
  });
  await using f = await startApiFixture({ temporal, script });
  const { session } = await team(f, { researcherTools: [{ type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'always_ask' } } }] });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('Go.')] });
  const log = await waitForEvent(f.client, session.id, (e) => e.type === 'session.thread_status_idle' && e.stop_reason.type === 'requires_action');
  const held = ofType(log, 'agent.tool_use').find((e) => e.evaluated_permission === 'ask')!;
  const threadId = (held as { session_thread_id?: string }).session_thread_id!;
  assert.match(threadId, /^sthr_/, 'the held call names its thread');
  const waiting = ofType(log, 'session.thread_status_idle').find((e) => e.session_thread_id === threadId)!;
  assert.deepEqual(waiting.stop_reason, { type: 'requires_action', event_ids: [held.id] }, "the thread waits for the call, by the id the session's stream shows");

  // The thread's own stream replays from the start, then follows live.
  const stream = await f.client.beta.sessions.threads.events.stream(threadId, { session_id: session.id });
  const [sent] = (await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: held.id, result: 'allow' }] })).data ?? [];
  assert.equal((sent as { session_thread_id?: string }).session_thread_id, threadId);
  const streamed: string[] = [];
  for await (const event of stream) {
    streamed.push(event.type);
    if (event.type === 'session.thread_status_idle' && event.stop_reason.type === 'end_turn') break;
  }
  assert.ok(streamed.includes('agent.tool_result'), `the thread's stream carried the run: ${streamed.join(', ')}`);
  const done = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.ok(ofType(done, 'agent.message').some((e) => JSON.stringify(e.content).includes('APPROVED_RUN')), 'the approved call ran and its result reached the coordinator');
});

test('an interrupt for one thread stops that thread only; one for the session stops every thread', async () => {
  const { script } = byRole({
    coordinator: (request, n) =>
      n === 0
        ? { content: [toolUse('delegate_to_agent', { agent: 'researcher', message: 'Research slowly.' }), toolUse('delegate_to_agent', { agent: 'writer', message: 'Write slowly.' })] }
        : { content: [text(`Heard: ${lastUserText(request).slice(0, 200)}`)] },
    researcher: (request) => (lastToolResults(request).length === 0 ? { content: [toolUse('bash', { command: 'sleep 60' })] } : { content: [text('researcher done')] }),
    writer: (request) => (lastToolResults(request).length === 0 ? { content: [toolUse('bash', { command: 'sleep 60' })] } : { content: [text('writer done')] }),
  });
  await using f = await startApiFixture({ temporal, script });
  const { session } = await team(f);
  await f.client.beta.sessions.events.send(session.id, { events: [userText('Go.')] });
  let log = await waitForEvent(f.client, session.id, (e) => e.type === 'session.thread_created', { count: 2 });
  const threads = Object.fromEntries(ofType(log, 'session.thread_created').map((e) => [e.agent_name, e.session_thread_id]));
  // Both specialists are in their sleeps.
  for (const id of Object.values(threads)) {
    const deadline = Date.now() + 30_000;
    while (!ofType(await threadLog(f.client, session.id, id!), 'agent.tool_use').length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }

  const started = Date.now();
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt', session_thread_id: threads['researcher'] } as never] });
  log = await waitForEvent(f.client, session.id, (e) => e.type === 'session.thread_status_idle' && e.session_thread_id === threads['researcher']);
  assert.ok(Date.now() - started < 20_000, 'the interrupted thread stopped at once');
  assert.ok(!log.some((e) => e.type === 'session.thread_status_idle' && e.session_thread_id === threads['writer']), 'the other thread works on');
  assert.equal((await f.client.beta.sessions.retrieve(session.id)).status, 'running', 'the coordinator still waits for the writer');

  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] });
  log = await waitForEvent(f.client, session.id, (e) => e.type === 'session.thread_status_idle' && e.session_thread_id === threads['writer']);
  await waitForEvent(f.client, session.id, (e) => e.type === 'session.status_idle');
  assert.ok(Date.now() - started < 40_000, 'every thread stopped at once');
  const writerThread = await f.client.beta.sessions.threads.retrieve(threads['writer']!, { session_id: session.id });
  assert.equal(writerThread.status, 'idle');
});

test('a coordinator that names an agent outside its roster gets a clear error as the tool result', async () => {
  const { script, seen } = byRole({
    coordinator: (request, n) => (n === 0 ? { content: [toolUse('delegate_to_agent', { agent: 'astronaut', message: 'Fly.' })] } : { content: [text(`error seen: ${lastToolResults(request)[0]?.text ?? ''}`)] }),
    researcher: () => ({ content: [text('unused')] }),
    writer: () => ({ content: [text('unused')] }),
  });
  await using f = await startApiFixture({ temporal, script });
  const { session } = await team(f);
  await f.client.beta.sessions.events.send(session.id, { events: [userText('Go.')] });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  const result = lastToolResults(seen.coordinator[1]!)[0]!;
  assert.equal(result.is_error, true);
  assert.match(result.text, /No agent named astronaut.*researcher, writer/);
  assert.equal(ofType(log, 'session.thread_created').length, 0);
  assert.equal((await sessionLog(f.client, session.id)).filter((e) => e.type === 'agent.tool_result').length, 1);
});

test('the budget holds the whole session: specialists spending side by side stop together at it; raising it lets every thread finish', async () => {
  const STEPS = 6;
  // $0.01 a request: at haiku prices (researcher) and opus prices (writer).
  const costly = { input_tokens: 10_000, output_tokens: 0 };
  const costlyOpus = { input_tokens: 2_000, output_tokens: 0 };
  const { script } = byRole({
    coordinator: (request, n) => (n === 0 ? { content: [toolUse('delegate_to_agent', { agent: 'researcher', message: 'loop' }), toolUse('delegate_to_agent', { agent: 'writer', message: 'loop' })] } : { content: [text(`coordinator: ${lastUserText(request).slice(0, 60)}`)] }),
    researcher: (request) => (lastToolResults(request).length === 0 || JSON.stringify(request.messages).match(/"tool_result"/g)!.length < STEPS ? { content: [toolUse('bash', { command: 'true' })], usage: costly } : { content: [text('researcher finished')], usage: costly }),
    writer: (request) => (lastToolResults(request).length === 0 || JSON.stringify(request.messages).match(/"tool_result"/g)!.length < STEPS ? { content: [toolUse('bash', { command: 'true' })], usage: costlyOpus } : { content: [text('writer finished')], usage: costlyOpus }),
  });
  await using f = await startApiFixture({ temporal, script });
  const { session } = await team(f, { budget: { type: 'limit', max_list_cost: { amount: '5', currency: 'USD' } } });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('Go.')] });
  let log = await waitForEvent(f.client, session.id, idleWith('budget_reached'), { timeoutMs: 90_000 });
  const threadIds = ofType(log, 'session.thread_created').map((e) => e.session_thread_id);
  for (const id of threadIds) {
    const deadline = Date.now() + 30_000;
    while ((await f.client.beta.sessions.threads.retrieve(id, { session_id: session.id })).status === 'running' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const events = await threadLog(f.client, session.id, id);
    assert.ok(events.some((e) => e.type === 'session.thread_status_idle' && e.stop_reason.type === 'budget_reached'), `${id} stopped at the budget`);
  }
  // Cents: each figure is rounded to the nearest on its own, so the threads' may sum to a cent or two more.
  const spent = Number((await f.client.beta.sessions.retrieve(session.id)).usage.list_cost?.amount);
  // Every request checks the whole session's spending first: at most one request per thread in flight past it.
  assert.ok(spent >= 5 && spent <= 5 + 2, `the session spent ${spent} cents`);
  const perThread = await Promise.all(threadIds.map(async (id) => Number((await f.client.beta.sessions.threads.retrieve(id, { session_id: session.id })).usage?.list_cost?.amount ?? 0)));
  assert.ok(perThread.every((cost) => cost > 0) && perThread.reduce((a, b) => a + b, 0) <= spent + perThread.length, `per thread ${perThread.join(', ')} of ${spent}`);

  await f.client.beta.sessions.update(session.id, { budget: { type: 'limit', max_list_cost: { amount: '100', currency: 'USD' } } });
  log = await waitForEvent(f.client, session.id, (e) => e.type === 'agent.thread_message_received' && /finished/.test(JSON.stringify(e.content)), { count: 2, timeoutMs: 90_000 });
  await waitForEvent(f.client, session.id, idleWith('end_turn'), { timeoutMs: 60_000 });
});

test('with self in its roster a thread delegates in turn, down to the depth limit; deleting the session removes every thread', async () => {
  const seen: string[] = [];
  const script = (request: ScriptedRequest) => {
    const results = lastToolResults(request);
    const said = JSON.stringify(request.messages);
    seen.push(results.map((r) => r.text).join(' | '));
    if (results.some((r) => r.text.includes('may not be nested deeper'))) return { content: [text('deepest: did it myself')] };
    if (said.includes('Message from thread')) return { content: [text('passing the answer up')] };
    if (results.length === 0) return { content: [toolUse('delegate_to_agent', { agent: 'recursive', message: 'go one deeper' })] };
    return { content: [text('waiting for my thread')] };
  };
  await using f = await startApiFixture({ temporal, script });
  const agent = await f.client.beta.agents.create({ name: 'recursive', model: MODELS.coordinator, tools: [{ type: 'agent_toolset_20260401' }], multiagent: { type: 'coordinator', agents: [{ type: 'self' }] } } as Anthropic.Beta.Agents.AgentCreateParams);
  const environment = await f.client.beta.environments.create({ name: 'deep-env' });
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('Go deep.')] });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'), { timeoutMs: 90_000 });
  assert.equal(ofType(log, 'session.thread_created').length, 3, 'three levels of threads below the primary');
  assert.ok(seen.some((s) => /Threads may not be nested deeper than 3/.test(s)), 'the deepest thread was told why it cannot delegate');
  const threads = (await f.client.beta.sessions.threads.list(session.id)).data;
  const parents = new Map(threads.map((t) => [t.id, t.parent_thread_id]));
  const depthOf = (id: string): number => (parents.get(id) ? 1 + depthOf(parents.get(id)!) : 0);
  assert.deepEqual(threads.map((t) => depthOf(t.id)).sort(), [0, 1, 2, 3]);
  assert.ok(ofType(log, 'agent.message').some((e) => JSON.stringify(e.content).includes('passing the answer up')));

  await f.client.beta.sessions.delete(session.id);
  const deadline = Date.now() + 30_000;
  while ((await f.harness.store.threads.list(session.id)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(await f.harness.store.threads.list(session.id), [], "the session's threads are gone");
  for (const thread of threads) assert.deepEqual(await f.harness.store.listEvents(thread.id), [], `${thread.id}'s log is gone`);
});

test('a session starts at most 25 threads; the delegation past the limit is an error the coordinator reads', async () => {
  const { script, seen } = byRole({
    coordinator: (request, n) =>
      n === 0 ? { content: Array.from({ length: 26 }, (_, i) => toolUse('delegate_to_agent', { agent: i % 2 ? 'writer' : 'researcher', message: `task ${i}` })) } : { content: [text('noted')] },
    researcher: () => ({ content: [text('researched')] }),
    writer: () => ({ content: [text('written')] }),
  });
  await using f = await startApiFixture({ temporal, script });
  const { session } = await team(f);
  await f.client.beta.sessions.events.send(session.id, { events: [userText('Fan out.')] });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'), { timeoutMs: 120_000 });
  assert.equal(ofType(log, 'session.thread_created').length, 25);
  assert.equal((await f.client.beta.sessions.threads.list(session.id, { limit: 100 })).data.length, 26, 'the primary and 25 threads');
  const refused = lastToolResults(seen.coordinator[1]!).filter((r) => r.is_error);
  assert.equal(refused.length, 1);
  assert.match(refused[0]!.text, /This session has 25 threads, the most it may/);
});
