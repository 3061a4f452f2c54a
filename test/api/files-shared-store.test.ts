/**
 * File resources the way `longhaul serve` runs them in production: the API has no
 * sandbox driver (no Docker on its host); it keeps uploads in PostgreSQL, and a
 * worker, which shares only that database and Temporal with it (its own
 * connection), copies them into the session's sandbox.
 */
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type Anthropic from '@anthropic-ai/sdk';
import { toFile } from '@anthropic-ai/sdk';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';
import { stepsScript } from '../support/steps-script.ts';

let temporal: DevServer;
let postgres: TestPostgres;
let fixture: ApiFixture;
let client: Anthropic;

before(async () => {
  temporal = await startTestTemporal();
  postgres = await startPostgres();
  const url = await postgres.createDatabase();
  // createApiApp takes no sandbox driver: only the worker reaches Docker.
  fixture = await startApiFixture({ temporal, script: stepsScript, postgresUrl: url, apiStoreUrl: url });
  ({ client } = fixture);
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
  await postgres?.stop();
  await temporal?.stop();
});

test('a worker mounts file resources from the shared store: at create, added while idle, and added mid-turn', async () => {
  // Larger than one chunk, so the copy streams several from the store.
  const blob = randomBytes(2 * 1024 * 1024 + 333);
  const notes = `notes ${Date.now()}\n`;
  const notesFile = await client.beta.files.upload({ file: await toFile(Buffer.from(notes), 'notes.txt') });
  const blobFile = await client.beta.files.upload({ file: await toFile(blob, 'blob.bin') });
  const agent = await client.beta.agents.create({ name: 'reader', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: `shared-files-${Date.now()}` });

  const session = await client.beta.sessions.create({
    agent: agent.id,
    environment_id: environment.id,
    resources: [
      { type: 'file', file_id: notesFile.id },
      { type: 'file', file_id: blobFile.id, mount_path: '/workspace/data/blob.bin' },
    ],
    initial_events: [{ type: 'user.message', content: [{ type: 'text', text: `steps: cat /mnt/session/uploads/${notesFile.id} && sha256sum /workspace/data/blob.bin && stat -c '%U %s' /workspace/data/blob.bin` }] }],
  });
  const first = lastResult(await waitForIdle(session.id, 1));
  assert.match(first, new RegExp(notes.trim()));
  assert.match(first, new RegExp(createHash('sha256').update(blob).digest('hex')), 'the chunks arrive whole and in order');
  assert.match(first, new RegExp(`agent ${blob.length}`));

  // Added while the session idles: in place for the next turn.
  const idleAdd = await client.beta.sessions.resources.add(session.id, { type: 'file', file_id: notesFile.id, mount_path: 'later.txt' });
  assert.equal(idleAdd.mount_path, '/workspace/later.txt');
  await send(session.id, 'steps: cat /workspace/later.txt');
  assert.match(lastResult(await waitForIdle(session.id, 2)), new RegExp(notes.trim()));

  // Added while a tool runs: in place before the model's next call, in the same turn.
  await send(session.id, 'steps: sleep 3 && echo slept ;; cat /workspace/during.txt');
  await waitFor(session.id, (events) => events.filter((e) => e.type === 'agent.tool_use').length >= 3, 'the third tool call');
  const duringFile = await client.beta.files.upload({ file: await toFile(Buffer.from('added mid-turn\n'), 'during.txt') });
  await client.beta.sessions.resources.add(session.id, { type: 'file', file_id: duringFile.id, mount_path: '/workspace/during.txt' });
  const events = await waitForIdle(session.id, 3);
  const lastTurn = events.slice(events.findLastIndex((e) => e.type === 'user.message'));
  const results = lastTurn.filter((e) => e.type === 'agent.tool_result');
  assert.equal(results.length, 2, JSON.stringify(lastTurn.map((e) => e.type)));
  assert.match(lastResult(events), /added mid-turn/);
  assert.equal(lastTurn.filter((e) => e.type === 'session.error').length, 0);

  const listed = [];
  for await (const resource of client.beta.sessions.resources.list(session.id)) listed.push(resource);
  assert.equal(listed.length, 4);
});

test('a file deleted before the worker copies it is reported as a session.error; the session goes on', async () => {
  const agent = await client.beta.agents.create({ name: 'reader', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: `shared-files-gone-${Date.now()}` });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'steps: sleep 3' }] }] });
  await waitFor(session.id, (events) => events.some((e) => e.type === 'agent.tool_use'), 'the tool call');
  const file = await client.beta.files.upload({ file: await toFile(Buffer.from('short-lived\n'), 'gone.txt') });
  await client.beta.sessions.resources.add(session.id, { type: 'file', file_id: file.id, mount_path: '/workspace/gone.txt' });
  await client.beta.files.delete(file.id);
  const events = await waitForIdle(session.id, 1);
  const error = events.find((e) => e.type === 'session.error');
  assert.ok(error, JSON.stringify(events.map((e) => e.type)));
  assert.match(JSON.stringify(error), /could not place \/workspace\/gone\.txt in the sandbox/);
  assert.ok(events.some((e) => e.type === 'agent.message'), 'the turn still ends with the agent’s reply');
});

function lastResult(events: Awaited<ReturnType<typeof listEvents>>): string {
  const result = events.filter((e) => e.type === 'agent.tool_result').at(-1);
  assert.ok(result?.type === 'agent.tool_result' && !result.is_error, JSON.stringify(result));
  return JSON.stringify(result.content);
}

async function send(sessionId: string, message: string) {
  await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: message }] }] });
}

async function listEvents(sessionId: string) {
  const events = [];
  for await (const event of client.beta.sessions.events.list(sessionId, { limit: 1000 })) events.push(event);
  return events;
}

async function waitFor(sessionId: string, done: (events: Awaited<ReturnType<typeof listEvents>>) => boolean, what: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await listEvents(sessionId);
    if (done(events)) return events;
    if (Date.now() > deadline) throw new Error(`session ${sessionId}: no ${what}: ${events.map((e) => e.type).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function waitForIdle(sessionId: string, turns: number) {
  return waitFor(sessionId, (events) => events.filter((e) => e.type === 'session.status_idle').length >= turns, `${turns} idle`);
}
