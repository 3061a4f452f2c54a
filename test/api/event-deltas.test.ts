import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BadRequestError } from '@anthropic-ai/sdk';
import { accumulateManagedAgentsEvent, type AccumulatedEvent } from '@anthropic-ai/sdk/lib/sessions/accumulate';
import type { BetaManagedAgentsStreamSessionEvents } from '@anthropic-ai/sdk/resources/beta/sessions/events';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { text, thinking, type ScriptFunction } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startApiFixture } from './api-fixture.ts';
import { sessionLog, userText } from './session-log.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

type StreamEvent = BetaManagedAgentsStreamSessionEvents;

const ANSWER = 'The first prime is 2, the second is 3, and the fifth is 11. '.repeat(8);

async function readTurn(stream: AsyncIterable<StreamEvent> & { controller: AbortController }): Promise<StreamEvent[]> {
  const seen: StreamEvent[] = [];
  const timer = setTimeout(() => stream.controller.abort(), 60_000);
  try {
    for await (const event of stream) {
      seen.push(event);
      if (event.type === 'session.status_idle') break;
    }
  } finally {
    clearTimeout(timer);
    stream.controller.abort();
  }
  return seen;
}

test('event_deltas: the stream previews agent.message as the model writes it; the SDK accumulator rebuilds the final event; nothing of it is stored', async () => {
  // Streamed slowly in several deltas, so previews arrive before the answer is complete.
  const script: ScriptFunction = () => ({ content: [thinking('Counting primes.'), text(ANSWER)], eventDelayMs: 20 });
  await using f = await startApiFixture({ temporal, script });
  const agent = await f.client.beta.agents.create({ name: 'writer', model: 'claude-sonnet-5-5' });
  const environment = await f.client.beta.environments.create({ name: 'env' });
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });

  const withDeltas = await f.client.beta.sessions.events.stream(session.id, { event_deltas: ['agent.message', 'agent.thinking'] });
  const plain = await f.client.beta.sessions.events.stream(session.id);
  await f.client.beta.sessions.events.send(session.id, { events: [userText('primes?')] });
  const [previewed, without] = await Promise.all([readTurn(withDeltas), readTurn(plain)]);

  const message = previewed.find((e) => e.type === 'agent.message');
  assert.ok(message?.type === 'agent.message');
  const thought = previewed.find((e) => e.type === 'agent.thinking');
  assert.ok(thought);
  const deltas = previewed.filter((e) => e.type === 'event_delta');
  assert.ok(deltas.length >= 2, `text arrives in pieces (${deltas.length} deltas)`);
  const types = previewed.map((e) => e.type);
  assert.ok(types.indexOf('event_start') < types.indexOf('event_delta'));
  assert.ok(types.lastIndexOf('event_delta') < types.indexOf('agent.message'), 'previews come before the event they preview');
  assert.deepEqual(
    previewed.filter((e) => e.type === 'event_start').map((e) => e.type === 'event_start' && e.event),
    [
      { type: 'agent.thinking', id: thought.id },
      { type: 'agent.message', id: message.id },
    ],
  );

  // The SDK's helper folds the previews into the message, then the final event replaces it.
  let accumulated: AccumulatedEvent | undefined;
  for (const event of previewed) {
    if (event.type === 'agent.message') break;
    accumulated = accumulateManagedAgentsEvent(accumulated, event);
  }
  assert.equal(accumulated?.id, message.id);
  assert.deepEqual(accumulated?.content, [{ type: 'text', text: ANSWER }]);

  // Without event_deltas nothing of it is sent, and the log holds the same events as both streams.
  assert.ok(!without.some((e) => e.type === 'event_start' || e.type === 'event_delta'));
  const log = await sessionLog(f.client, session.id);
  assert.deepEqual(
    log.map((e) => e.id),
    without.map((e) => (e as { id: string }).id),
  );
  assert.deepEqual(
    previewed.filter((e) => e.type !== 'event_start' && e.type !== 'event_delta').map((e) => (e as { id: string }).id),
    log.map((e) => e.id),
  );

  // Only agent.message and agent.thinking have previews.
  const bad = await f.client.beta.sessions.events.stream(session.id, { event_deltas: ['agent.tool_use' as never] }).catch((e: unknown) => e);
  assert.ok(bad instanceof BadRequestError);
  assert.match(bad.message, /event_deltas/);
});
