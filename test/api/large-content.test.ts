/**
 * User content of megabytes must not wedge a session: Temporal caps a payload at 2 MiB,
 * so large content reaches the workflow by reference from the store. And the API states
 * its body limit and answers past it with 413 at once.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastToolResults, lastUserText, text, toolUse, type ScriptFunction } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { API_KEY, startApiFixture, type ApiFixture } from './api-fixture.ts';
import { idleWith, sessionLog, userText, waitForEvent } from './session-log.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const MiB = 1024 * 1024;
const big = (label: string, bytes: number) => `${label}:${'x'.repeat(bytes - label.length - 2)}:$`;

async function sessionFor(f: ApiFixture, tools: unknown[], session: Record<string, unknown> = {}) {
  const agent = await f.client.beta.agents.create({ name: 'large', model: 'claude-sonnet-5-5', tools } as never);
  const environment = await f.client.beta.environments.create({ name: 'large-env', config: { type: 'cloud', networking: { type: 'limited' } } });
  return f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, ...session } as never);
}

/** The largest payload in the session workflow's history (all runs), in bytes. */
async function largestPayloadBytes(f: ApiFixture, sessionId: string): Promise<number> {
  let largest = 0;
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    const data = (value as { data?: unknown }).data;
    if (data instanceof Uint8Array && (value as { metadata?: unknown }).metadata !== undefined) largest = Math.max(largest, data.byteLength);
    for (const child of Object.values(value)) visit(child);
  };
  visit(await f.harness.client.workflow.getHandle(sessionId).fetchHistory());
  return largest;
}

test('a 3 MiB user.message, 1 MiB initial events and a 2.5 MiB custom tool result reach the session by reference; history stays small', async () => {
  const script: ScriptFunction = (request, { callIndex }) => {
    if (callIndex === 0) return { content: [text(`first ${lastUserText(request).length}`)] };
    if (callIndex === 1) return { content: [text('checking'), toolUse('lookup', { q: 'x' })] };
    return { content: [text(`result ${lastToolResults(request)[0]?.text.length ?? 0}`)] };
  };
  // A budget these payloads fit in: this test is about how they travel, not about summarising them to fit.
  await using f = await startApiFixture({ temporal, script, context: { contextBudgetBytes: 32 * MiB } });
  const initial = big('initial', MiB);
  const session = await sessionFor(
    f,
    [{ type: 'custom', name: 'lookup', description: 'Looks up', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }],
    { initial_events: [userText(initial)] },
  );
  await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.ok(f.harness.model.calls[0] && lastUserText(f.harness.model.calls[0].body) === initial, 'the initial message reached the model whole');

  const message = big('message', 3 * MiB);
  await f.client.beta.sessions.events.send(session.id, { events: [userText(message)] });
  const log = await waitForEvent(f.client, session.id, idleWith('requires_action'));
  assert.ok(f.harness.model.calls[1] && lastUserText(f.harness.model.calls[1].body) === message, 'the message reached the model whole');
  const sent = log.findLast((e) => e.type === 'user.message');
  assert.ok(sent?.type === 'user.message' && sent.content.length === 1 && sent.content[0]?.type === 'text' && sent.content[0].text === message, 'the log holds the content itself');

  const use = log.find((e) => e.type === 'agent.custom_tool_use');
  assert.ok(use);
  const result = big('result', 2.5 * MiB);
  await f.client.beta.sessions.events.send(session.id, {
    events: [{ type: 'user.custom_tool_result', custom_tool_use_id: use.id, content: [{ type: 'text', text: result }] }],
  });
  await waitForEvent(f.client, session.id, idleWith('end_turn'), { count: 2 });
  const got = lastToolResults(f.harness.model.calls[2]!.body)[0]?.text ?? '';
  assert.ok(got === result, `the model got ${got.length} characters: ${got.slice(0, 120)}`);
  const answered = (await sessionLog(f.client, session.id)).find((e) => e.type === 'user.custom_tool_result');
  assert.ok(answered?.type === 'user.custom_tool_result' && JSON.stringify(answered.content).includes(result), 'the log holds the result itself');
  // Still steerable: an interrupt and a delete are answered.
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] });
  assert.ok((await largestPayloadBytes(f, session.id)) < 64 * 1024, 'a payload in the workflow history is not small');
});

test('a body over the stated limit is answered 413 before it is read', async () => {
  await using f = await startApiFixture({ temporal, script: () => ({ content: [text('unused')] }) });
  const url = new URL(`${f.api.url}/v1/agents`);
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json', 'content-length': String(64 * MiB) } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    // Only the headers and a first chunk go out: the answer must not wait for the rest.
    req.write('{"name":"');
  });
  assert.equal(answer.status, 413);
  assert.deepEqual(JSON.parse(answer.body).error.type, 'request_too_large');
  assert.match(JSON.parse(answer.body).error.message, /larger than the 33554432 bytes/);
});
