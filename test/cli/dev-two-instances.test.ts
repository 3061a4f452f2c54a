/**
 * Two projects on one machine: two `longhaul dev` instances (two data folders, two API
 * ports, neither given a Temporal port) must not share a Temporal server, or each
 * worker would run the other's sessions against its own store.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { QUICKSTART_TASK } from '../../src/testing/index.ts';
import { removeSessionSandboxes } from '../support/docker.ts';
import { killDev } from '../support/longhaul-cli.ts';
import { freePort } from '../../src/net/free-port.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'bin', 'longhaul.js');

type Dev = { dataDir: string; child: ChildProcess; out: () => string; exited: Promise<unknown> };
const devs: Dev[] = [];
const sessions: string[] = [];

function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'LONGHAUL_API_KEY', 'LONGHAUL_URL', 'LONGHAUL_PORT', 'LONGHAUL_DATA_DIR', 'LONGHAUL_TASK_QUEUE']) {
    delete env[name];
  }
  return env;
}

async function startDev(): Promise<Dev> {
  const dataDir = mkdtempSync(join(tmpdir(), 'longhaul-two-'));
  const child = spawn(process.execPath, [cli, 'dev', '--data-dir', dataDir, '--port', String(await freePort())], {
    cwd: root,
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const dev = { dataDir, child, out: () => out, exited: new Promise((resolve) => child.once('exit', resolve)) };
  devs.push(dev);
  return dev;
}

async function ready(dev: Dev): Promise<{ api_url: string; api_key: string; temporal_address: string }> {
  const deadline = Date.now() + 150_000;
  while (!dev.out().includes('longhaul dev is ready')) {
    if (dev.child.exitCode !== null) assert.fail(`longhaul dev exited with ${dev.child.exitCode}\n${dev.out()}`);
    if (Date.now() > deadline) assert.fail(`longhaul dev not ready after 150 s\n${dev.out()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return JSON.parse(readFileSync(join(dev.dataDir, 'dev.json'), 'utf8'));
}

after(async () => {
  for (const dev of devs) {
    if (dev.child.exitCode === null && dev.child.signalCode === null) {
      dev.child.kill('SIGINT');
      await Promise.race([dev.exited, new Promise((r) => setTimeout(r, 30_000))]);
    }
    await killDev(dev.child, dev.dataDir);
    await removeSessionSandboxes(join(dev.dataDir, 'sandboxes'), sessions);
    rmSync(dev.dataDir, { recursive: true, force: true });
  }
});

test('two longhaul dev instances each run their own Temporal server and only their own sessions', { timeout: 400_000 }, async () => {
  const first = await startDev();
  const a = await ready(first);
  const second = await startDev();
  const b = await ready(second);
  assert.notEqual(a.temporal_address, b.temporal_address, 'the two instances share a Temporal server');

  const clients = [a, b].map((info) => new Anthropic({ baseURL: info.api_url, apiKey: info.api_key }));
  const runOne = async (client: Anthropic) => {
    const agent = await client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const environment = await client.beta.environments.create({ name: 'env', config: { type: 'cloud', networking: { type: 'limited' } } });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    sessions.push(session.id);
    const stream = await client.beta.sessions.events.stream(session.id);
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: QUICKSTART_TASK }] }] });
    for await (const event of stream) {
      if (event.type === 'session.status_idle') break;
    }
    return session.id;
  };
  // Four sessions on each, at once.
  const ids = await Promise.all([0, 1, 2, 3].flatMap(() => clients.map((client) => runOne(client))));
  const mine = ids.filter((_, i) => i % 2 === 0);
  const theirs = ids.filter((_, i) => i % 2 === 1);
  for (const [client, own, foreign] of [
    [clients[0]!, mine, theirs],
    [clients[1]!, theirs, mine],
  ] as const) {
    for (const id of own) {
      const events = [];
      for await (const event of client.beta.sessions.events.list(id)) events.push(event.type);
      assert.ok(events.includes('agent.message'), `${id}: ${events.join(', ')}`);
    }
    for (const id of foreign) {
      await assert.rejects(client.beta.sessions.retrieve(id), /404/);
    }
  }
});
