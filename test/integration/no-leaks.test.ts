/**
 * Nothing left behind: many sessions in a row, each created, worked and deleted through
 * the API, leave the process (API server and worker in one) with as many open file
 * descriptors and as much heap as before, and Docker and the host with no container,
 * volume, disk image or mount of theirs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MessageCreateParams } from '@anthropic-ai/sdk/resources/messages';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastToolResults, text, toolUse, type ScriptedTurn } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { eventually } from '../support/eventually.ts';
import { startApiFixture, type ApiFixture } from '../api/api-fixture.ts';

const SESSIONS = Number(process.env['LONGHAUL_LEAK_SESSIONS'] ?? 200);
/** Every this many sessions, one runs a tool in a sandbox (a container and a disk of its own). */
const SANDBOX_EVERY = 10;
const WARMUP = 20;

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

/** A task that names `tool` runs one bash call; any other is answered in words. */
function script(request: MessageCreateParams): ScriptedTurn {
  const first = request.messages[0]?.content;
  const task = typeof first === 'string' ? first : (first ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
  if (task.includes('tool') && lastToolResults(request).length === 0) return { content: [toolUse('bash', { command: 'echo hi > /workspace/hi.txt && cat /workspace/hi.txt' })] };
  return { content: [text('done')] };
}

let temporal: DevServer;
let fixture: ApiFixture;

before(async () => {
  temporal = await startTestTemporal();
  fixture = await startApiFixture({ temporal, script });
});

after(async () => {
  await fixture[Symbol.asyncDispose]();
  await temporal.stop();
});

const openFds = () => readdirSync('/proc/self/fd').length;
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};
const docker = (...args: string[]) =>
  execFileSync('docker', args)
    .toString()
    .split('\n')
    .filter((line) => line.trim() !== '');
const mountsUnder = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => (line.split(' ')[4] ?? '').startsWith(dir)).length;

test(`${SESSIONS} sessions in a row, created, worked and deleted: open files, heap, containers, volumes, disks and mounts stay flat`, { timeout: 900_000 }, async () => {
  const { client, harness } = fixture;
  const agent = await client.beta.agents.create({ name: 'leaky?', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: 'leaks' });
  const ids: string[] = [];
  const one = async (i: number) => {
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    ids.push(session.id);
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: i % SANDBOX_EVERY === 0 ? 'use a tool' : 'say done' }] }] });
    await eventually(`session ${i} answered`, async () => (await client.beta.sessions.events.list(session.id)).data.some((e) => e.type === 'session.status_idle'), { everyMs: 20 });
    await client.beta.sessions.delete(session.id);
  };
  /** Waits until every session so far is gone from Docker and the disk. */
  const settled = async () => {
    const ours = (labels: string[]) => labels.filter((session) => ids.includes(session));
    await eventually(
      "the deleted sessions' containers, volumes and disks gone",
      () =>
        ours(docker('ps', '-a', '--filter', 'label=longhaul.session', '--format', '{{.Label "longhaul.session"}}')).length === 0 &&
        ours(docker('volume', 'ls', '--filter', 'label=longhaul.session', '--format', '{{.Label "longhaul.session"}}')).length === 0 &&
        readdirSync(`${harness.dataDir}/sandboxes`, { recursive: true }).filter((f) => String(f).endsWith('.ext4')).length === 0 &&
        mountsUnder(harness.dataDir) === 0,
      { timeoutMs: 120_000, everyMs: 500 },
    );
  };

  for (let i = 0; i < WARMUP; i++) await one(i);
  await settled();
  const before = { fds: openFds(), heap: heapMb() };
  const started = Date.now();
  for (let i = WARMUP; i < WARMUP + SESSIONS; i++) await one(i);
  await settled();
  // Connections the store and clients pool, and timers of the last sessions, wind down first.
  await new Promise((r) => setTimeout(r, 2000));
  const afterRun = { fds: openFds(), heap: heapMb() };
  console.log(`${SESSIONS} sessions (${SESSIONS / SANDBOX_EVERY} with a sandbox) in ${Math.round((Date.now() - started) / 1000)} s: open fds ${before.fds} → ${afterRun.fds}, heap ${before.heap.toFixed(1)} → ${afterRun.heap.toFixed(1)} MiB`);
  assert.ok(afterRun.fds <= before.fds + 10, `open file descriptors grew from ${before.fds} to ${afterRun.fds}`);
  // Each session, leaked, would hold far more than this (its stream, its records, its sandbox client).
  assert.ok(afterRun.heap <= before.heap + 25, `heap grew from ${before.heap.toFixed(1)} to ${afterRun.heap.toFixed(1)} MiB`);
});
