/**
 * DELETE deletes: the container, the session's disk (workspace and session files), the host
 * folder and every row of the session. Archive keeps the log readable and frees the
 * sandbox and its workspace. Both happen even when no worker runs at the moment.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { text, toolUse, type ScriptFunction } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';
import { idleWith, userText, waitForEvent } from './session-log.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const script: ScriptFunction = (_request, { callIndex }) =>
  callIndex % 2 === 0 ? { content: [toolUse('bash', { command: 'echo kept > /workspace/kept.txt && echo ok' })] } : { content: [text('done')] };

/** A session that ran a tool (so it has a container, a disk, a host folder, events and transcript), idle. */
async function usedSession(f: ApiFixture, big = false): Promise<string> {
  const agent = await f.client.beta.agents.create({ name: 'doomed', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await f.client.beta.environments.create({ name: 'doomed-env', config: { type: 'cloud', networking: { type: 'limited' } } });
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  // Large content too, so session_content has a row.
  await f.client.beta.sessions.events.send(session.id, { events: [userText(big ? 'y'.repeat(64 * 1024) : 'write a file')] });
  await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.ok(containers(session.id).length > 0);
  assert.ok(existsSync(f.harness.sandboxes.diskImagePath(session.id)), 'the session has a disk');
  assert.ok(existsSync(f.harness.sandboxes.sessionDir(session.id)));
  assert.ok((await f.harness.store.listAttemptUsage(session.id)).length > 0, 'the model calls recorded their usage');
  return session.id;
}

const containers = (id: string) => execFileSync('docker', ['ps', '-aq', '--filter', `label=longhaul.session=${id}`]).toString().trim().split('\n').filter(Boolean);

async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function assertGone(f: ApiFixture, id: string): Promise<void> {
  await eventually('the container is removed', () => containers(id).length === 0);
  await eventually('the disk is removed', () => !existsSync(f.harness.sandboxes.diskImagePath(id)));
  await eventually('the host folder is removed', () => !existsSync(f.harness.sandboxes.sessionDir(id)));
  await eventually('the rows are deleted', async () => (await f.harness.store.listEvents(id, { limit: 10 })).length === 0);
  await assert.rejects(f.harness.store.sessions.retrieve(id), /not found/);
  assert.equal((await f.harness.store.sessions.listApiSessions({ limit: 1000, includeArchived: true })).data.some((s) => s.id === id), false);
  assert.deepEqual(await f.harness.store.readTranscript(id), []);
  assert.deepEqual(await f.harness.store.listAttemptUsage(id), []);
  await assert.rejects(f.client.beta.sessions.retrieve(id), /404/);
}

test('DELETE removes the container, disk, host folder and every row of the session', async () => {
  await using f = await startApiFixture({ temporal, script });
  const id = await usedSession(f, true);
  assert.deepEqual(await f.client.beta.sessions.delete(id), { id, type: 'session_deleted' });
  await assertGone(f, id);
  await assert.rejects(f.client.beta.sessions.delete(id), /404/);
});

test('DELETE while no worker runs is carried out when one starts', async () => {
  await using f = await startApiFixture({ temporal, script, worker: false });
  const worker = await f.harness.startWorker();
  const id = await usedSession(f);
  await worker.stop();
  await f.client.beta.sessions.delete(id);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.ok(existsSync(f.harness.sandboxes.diskImagePath(id)), 'nothing should have happened without a worker');
  await f.harness.startWorker();
  await assertGone(f, id);
});

test('DELETE of an archived session (its workflow over) still removes everything; archive itself keeps the log', async () => {
  await using f = await startApiFixture({ temporal, script });
  const id = await usedSession(f);
  const archived = await f.client.beta.sessions.archive(id);
  assert.notEqual(archived.archived_at, null);
  await eventually('archive frees the disk', () => !existsSync(f.harness.sandboxes.diskImagePath(id)) && containers(id).length === 0);
  assert.ok((await f.harness.store.listEvents(id, { limit: 10 })).length > 0, 'an archived session keeps its events');
  await f.client.beta.sessions.delete(id);
  await assertGone(f, id);
});
