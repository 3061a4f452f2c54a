import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { BetaManagedAgentsStreamSessionEvents } from '@anthropic-ai/sdk/resources/beta/sessions/events';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript, QUICKSTART_TASK } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { QUICKSTART_TURN_EVENT_TYPES } from '../support/quickstart-events.ts';
import { startApiFixture } from './api-fixture.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const TURN = QUICKSTART_TURN_EVENT_TYPES;

type StreamEvent = BetaManagedAgentsStreamSessionEvents;

/** Reads the stream until `until` matches (inclusive), then closes it; fails after `timeoutMs`. */
async function readUntil(stream: AsyncIterable<StreamEvent> & { controller: AbortController }, until: (e: StreamEvent) => boolean, timeoutMs = 90_000): Promise<StreamEvent[]> {
  const seen: StreamEvent[] = [];
  const timer = setTimeout(() => stream.controller.abort(), timeoutMs);
  try {
    for await (const event of stream) {
      seen.push(event);
      if (until(event)) return seen;
    }
  } catch (error) {
    if (!stream.controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    stream.controller.abort();
  }
  throw new Error(`no matching event within ${timeoutMs} ms; saw ${seen.map((e) => e.type).join(', ')}`);
}

const textOf = (event: StreamEvent | undefined) =>
  event?.type === 'agent.message' ? event.content.map((b) => (b.type === 'text' ? b.text : '')).join('') : '';

test('the quickstart over HTTP with the official SDK: agents → environments → sessions → stream → send → idle', async () => {
  await using f = await startApiFixture({ temporal, script: demoAgentScript });
  const { client } = f;

  const agent = await client.beta.agents.create({
    name: 'Coding Assistant',
    model: 'claude-sonnet-5-5',
    system: 'You are a helpful coding assistant.',
    tools: [{ type: 'agent_toolset_20260401' }],
  });
  const environment = await client.beta.environments.create({ name: 'quickstart-env', config: { type: 'cloud', networking: { type: 'unrestricted' } } });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, title: 'Quickstart' });
  assert.match(session.id, /^sesn_011C[0-9A-Za-z]{20}$/);
  assert.equal(session.status, 'idle');
  assert.deepEqual({ id: session.agent.id, version: session.agent.version, name: session.agent.name }, { id: agent.id, version: 1, name: 'Coding Assistant' });
  assert.equal(session.environment_id, environment.id);

  // Open the stream first, then send: the stream is live from connection, so it sees the whole turn.
  const stream = await client.beta.sessions.events.stream(session.id);
  const sent = await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: QUICKSTART_TASK }] }] });
  const events = await readUntil(stream, (e) => e.type === 'session.status_idle');
  // send echoes the event with the id it then carries in the log and the stream.
  assert.equal(sent.data?.length, 1);
  assert.equal(sent.data?.[0]?.type, 'user.message');
  assert.equal(sent.data?.[0]?.id, events[0]?.type === 'user.message' ? events[0].id : undefined);

  assert.deepEqual(events.map((e) => e.type), TURN);
  const idle = events.at(-1);
  assert.deepEqual(idle?.type === 'session.status_idle' && idle.stop_reason, { type: 'end_turn' });
  const finalText = textOf(events.findLast((e) => e.type === 'agent.message'));
  assert.match(finalText, /229/);
  assert.match(finalText, /5117/);

  // events.list pages over the same log, with the same ids, in the same order.
  const listed = [];
  for await (const event of client.beta.sessions.events.list(session.id, { limit: 4 })) listed.push(event);
  assert.deepEqual(listed.map((e) => e.id), events.map((e) => 'id' in e && e.id));
  const newestFirst = await client.beta.sessions.events.list(session.id, { order: 'desc', limit: 2 });
  assert.deepEqual(newestFirst.data.map((e) => e.id), listed.slice(-2).reverse().map((e) => e.id));
  const toolEvents = await client.beta.sessions.events.list(session.id, { types: ['agent.tool_use', 'agent.tool_result'] });
  assert.deepEqual(toolEvents.data.map((e) => e.type), ['agent.tool_use', 'agent.tool_result', 'agent.tool_use', 'agent.tool_result']);

  const retrieved = await client.beta.sessions.retrieve(session.id);
  assert.equal(retrieved.status, 'idle');
  assert.ok((retrieved.usage.output_tokens ?? 0) > 0, JSON.stringify(retrieved.usage));
  f.harness.model.assertNoUnscriptedCalls();
});

test('a stream reconnected with Last-Event-ID misses nothing; without it, it starts live', async () => {
  await using f = await startApiFixture({ temporal, script: demoAgentScript });
  const { client } = f;
  const agent = await client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: 'env' });
  const session = await client.beta.sessions.create({
    agent: { type: 'agent', id: agent.id, version: 1 },
    environment_id: environment.id,
    initial_events: [{ type: 'user.message', content: [{ type: 'text', text: QUICKSTART_TASK }] }],
  });
  assert.equal(session.status, 'running');

  // A client saw the first three events of the turn, then lost its connection.
  let firstThree = (await client.beta.sessions.events.list(session.id, { limit: 3 })).data;
  while (firstThree.length < 3) {
    await new Promise((r) => setTimeout(r, 50));
    firstThree = (await client.beta.sessions.events.list(session.id, { limit: 3 })).data;
  }
  const lastSeen = firstThree.at(-1)!.id;

  // Reconnect after the last event seen: the rest of the turn, from the log then live.
  const resumed = await client.beta.sessions.events.stream(session.id, {}, { headers: { 'Last-Event-ID': lastSeen } });
  const rest = await readUntil(resumed, (e) => e.type === 'session.status_idle');
  assert.deepEqual([...firstThree.map((e) => e.type), ...rest.map((e) => e.type)], TURN);
  const all = (await client.beta.sessions.events.list(session.id, { limit: 100 })).data;
  assert.deepEqual([...firstThree, ...rest].map((e) => 'id' in e && e.id), all.map((e) => e.id));

  // A stream opened now, with the turn over, shows nothing stale: the next thing it sees is the next turn.
  const live = await client.beta.sessions.events.stream(session.id);
  await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'what is in the workspace?' }] }] });
  const next = await readUntil(live, (e) => e.type === 'session.status_idle');
  assert.equal(next[0]?.type, 'user.message');
  assert.equal(next.filter((e) => e.type === 'session.status_idle').length, 1);

  // ?after_id= resumes too.
  const viaQuery = await fetch(`${f.api.url}/v1/sessions/${session.id}/events/stream?after_id=${all.at(-2)!.id}`, { headers: { authorization: `Bearer lh-test-key-0123456789` } });
  assert.equal(viaQuery.headers.get('content-type'), 'text/event-stream');
  const reader = viaQuery.body!.getReader();
  let text = '';
  while (!text.includes('event: session.status_idle')) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  assert.match(text, new RegExp(`event: session.status_idle\\ndata: \\{"id":"${all.at(-1)!.id}"`));
});
