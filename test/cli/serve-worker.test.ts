/**
 * Production mode end to end: a real PostgreSQL and Temporal dev server, `longhaul
 * worker --scripted-model` and `longhaul serve` as child processes, the quickstart
 * through the official SDK against `serve`, then SIGTERM to both. Needs Docker, the
 * sandbox image, the Temporal CLI and PostgreSQL (scripts/setup.sh).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { Client, Connection } from '@temporalio/client';
import { scheduleIdOf } from '../../src/deployments/deployment-schedules.ts';
import type { DeploymentRun } from '../../src/schemas/api-deployment.ts';
import { DeploymentStore } from '../../src/store/deployment-store.ts';
import { openEngineStore } from '../../src/cli/open-engine-store.ts';
import { ConfigError } from '../../src/config/dev-config.ts';
import { MALLOC_SETTINGS } from '../../src/config/memory-settings.ts';
import { redactDatabaseUrl, resolveApiKeys, resolveEngineConfig, resolveServeConfig, resolveWorkerModel } from '../../src/config/server-config.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { QUICKSTART_TASK } from '../../src/testing/index.ts';
import { removeSessionSandboxes } from '../support/docker.ts';
import { startTestTemporal } from '../support/harness.ts';
import { freePort } from '../../src/net/free-port.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { QUICKSTART_TURN_EVENT_TYPES } from '../support/quickstart-events.ts';
import { cliEnv, startLonghaul, type LonghaulProcess } from '../support/longhaul-cli.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'bin', 'longhaul.js');
const API_KEY = 'lh-serve-test-key-0123456789';

type Started = LonghaulProcess;

async function startCli(args: string[], env: NodeJS.ProcessEnv, readyLine: string): Promise<Started> {
  const started = await startLonghaul(args, env, readyLine);
  children.push(started.child);
  return started;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function stopWith(started: Started, signal: NodeJS.Signals, timeoutMs = 60_000) {
  started.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    started.exited,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms after ${signal}\n${started.output()}`)), timeoutMs))),
  ]).finally(() => clearTimeout(timer));
}

const runningContainers = (sessionId: string) => execFileSync('docker', ['ps', '-aq', '--filter', `label=longhaul.session=${sessionId}`]).toString().trim();

let postgres: TestPostgres;
let temporal: DevServer;
let dataDir: string;
const children: ChildProcess[] = [];
const sessions: string[] = [];

before(async () => {
  [postgres, temporal] = await Promise.all([startPostgres(), startTestTemporal()]);
  dataDir = mkdtempSync(join(tmpdir(), 'longhaul-serve-'));
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await removeSessionSandboxes(join(dataDir, 'sandboxes'), sessions);
  await temporal?.stop();
  await postgres?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('server config: flags, then environment, then defaults; keys from both variables; clear refusals', () => {
  const env = { DATABASE_URL: 'postgres://u:pw@db:5432/lh', LONGHAUL_API_KEYS: 'a, b,,a', LONGHAUL_API_KEY: 'c' };
  const config = resolveServeConfig({ flags: {}, env });
  assert.deepEqual(config, {
    temporalAddress: '127.0.0.1:7233',
    temporalNamespace: 'default',
    taskQueue: 'longhaul',
    databaseUrl: 'postgres://u:pw@db:5432/lh',
    port: 4000,
    host: '127.0.0.1',
    apiKeys: ['a', 'b', 'c'],
  });
  const flagged = resolveServeConfig({
    flags: { temporalAddress: 't:1', temporalNamespace: 'ns', databaseUrl: 'postgresql://other/db', port: '9', host: '0.0.0.0' },
    env: { ...env, TEMPORAL_ADDRESS: 'env:2', TEMPORAL_NAMESPACE: 'envns', LONGHAUL_PORT: '8' },
  });
  assert.deepEqual([flagged.temporalAddress, flagged.temporalNamespace, flagged.databaseUrl, flagged.port, flagged.host], ['t:1', 'ns', 'postgresql://other/db', 9, '0.0.0.0']);
  assert.equal(resolveEngineConfig({ flags: {}, env: { DATABASE_URL: 'postgres://x/y', TEMPORAL_ADDRESS: 'env:2' } }).temporalAddress, 'env:2');

  assert.throws(() => resolveEngineConfig({ flags: {}, env: {} }), (e: unknown) => e instanceof ConfigError && /set DATABASE_URL/.test(e.message));
  assert.throws(() => resolveEngineConfig({ flags: {}, env: { DATABASE_URL: 'mysql://u:pw@h/db' } }), (e: unknown) => e instanceof ConfigError && /postgres:\/\//.test(e.message) && !e.message.includes('pw'));
  assert.throws(() => resolveApiKeys({ LONGHAUL_API_KEYS: ' , ' }), /no API key: set LONGHAUL_API_KEYS/);
  assert.throws(() => resolveWorkerModel({ env: {} }), /no model: set ANTHROPIC_API_KEY.*--scripted-model/);
  assert.deepEqual(resolveWorkerModel({ env: { ANTHROPIC_API_KEY: 'k' } }), { kind: 'anthropic', apiKey: 'k', baseUrl: undefined });
  assert.deepEqual(resolveWorkerModel({ scriptedModel: true, env: { ANTHROPIC_API_KEY: 'k' } }), { kind: 'scripted' });
  assert.equal(redactDatabaseUrl('postgres://user:s3cret@host:5432/db'), 'postgres://user:***@host:5432/db');
  assert.equal(redactDatabaseUrl('postgres://host/db'), 'postgres://host/db');
});

test('servers and workers starting together on a fresh database migrate it once, without racing', async () => {
  const databaseUrl = await postgres.createDatabase();
  const opened = await Promise.all([1, 2, 3, 4].map(() => openEngineStore({ databaseUrl })));
  try {
    const [first] = opened;
    const applied = await first!.driver.query<{ n: number }>('SELECT count(*)::int AS n FROM longhaul_migrations');
    const again = await openEngineStore({ databaseUrl });
    opened.push(again);
    assert.deepEqual(await again.driver.query<{ n: number }>('SELECT count(*)::int AS n FROM longhaul_migrations'), applied);
  } finally {
    await Promise.all(opened.map(({ store }) => store.close()));
  }
});

test('longhaul serve refuses to start without a database or without API keys, saying which', async () => {
  const noDatabase = await runCli(['serve', '--port', String(await freePort())], cliEnv({ LONGHAUL_API_KEY: API_KEY }));
  assert.equal(noDatabase.code, 2);
  assert.match(noDatabase.stderr, /no database: set DATABASE_URL \(or --database-url\)/);
  assert.equal(noDatabase.stdout, '');

  const noKeys = await runCli(['serve', '--port', String(await freePort())], cliEnv({ DATABASE_URL: postgres.url }));
  assert.equal(noKeys.code, 2);
  assert.match(noKeys.stderr, /no API key: set LONGHAUL_API_KEYS \(comma-separated\) or LONGHAUL_API_KEY/);

  const noModel = await runCli(['worker'], cliEnv({ DATABASE_URL: postgres.url }));
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /no model: set ANTHROPIC_API_KEY/);
});

test('longhaul worker + longhaul serve on PostgreSQL run the quickstart through the SDK, and SIGTERM stops both cleanly', { timeout: 300_000 }, async () => {
  const databaseUrl = await postgres.createDatabase();
  const taskQueue = `serve-test-${process.pid}`;
  const engine = { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporal.address, LONGHAUL_TASK_QUEUE: taskQueue };
  const port = await freePort();
  // Without malloc settings of their own: each must give itself longhaul's.
  const withoutMalloc = (env: NodeJS.ProcessEnv) => Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('MALLOC_')));
  // Both at once, on a fresh database, as a deployment starts them.
  const [worker, serve] = await Promise.all([
    startCli(['worker', '--scripted-model', '--data-dir', dataDir], withoutMalloc(cliEnv(engine)), 'longhaul worker is ready'),
    startCli(['serve', '--port', String(port)], withoutMalloc(cliEnv({ ...engine, LONGHAUL_API_KEYS: `other-key,${API_KEY}`, LONGHAUL_TEMPORAL_UI_URL: 'http://temporal-ui.test:8080' })), 'longhaul serve is ready'),
  ]);
  // Relaunched once (same pid) with the malloc settings that keep a long-running process's memory flat, not dev's V8 flags.
  for (const { child } of [worker, serve]) {
    const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
    for (const [name, value] of Object.entries(MALLOC_SETTINGS)) assert.ok(environ.includes(`${name}=${value}`), `${name}=${value} in the environment of ${child.spawnargs.join(' ')}`);
    assert.doesNotMatch(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8'), /max-semi-space-size/);
  }
  assert.match(worker.output(), /^stdout:\nmodel: scripted demo model \(--scripted-model\) — not Claude\n/, 'the model is said first');
  assert.match(serve.output(), new RegExp(`longhaul serve is ready: http://127\\.0\\.0\\.1:${port} \\(2 API keys;`));
  assert.doesNotMatch(serve.output(), new RegExp(API_KEY), 'keys are never printed');

  const client = new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey: API_KEY, maxRetries: 0 });
  await assert.rejects(new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey: 'wrong', maxRetries: 0 }).beta.agents.list(), { status: 401 });
  // The web console is served too, its settings behind the same keys.
  assert.equal((await fetch(`http://127.0.0.1:${port}/console/`)).status, 200);
  assert.equal((await fetch(`http://127.0.0.1:${port}/console/config.json`)).status, 401);
  const consoleConfig = await fetch(`http://127.0.0.1:${port}/console/config.json`, { headers: { 'x-api-key': API_KEY } });
  assert.deepEqual(await consoleConfig.json(), { temporal_ui_url: 'http://temporal-ui.test:8080', temporal_namespace: 'default' });

  const agent = await client.beta.agents.create({ name: 'Coding Assistant', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: 'quickstart-env', config: { type: 'cloud', networking: { type: 'unrestricted' } } });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  sessions.push(session.id);

  const stream = await client.beta.sessions.events.stream(session.id);
  await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: QUICKSTART_TASK }] }] });
  const seen: string[] = [];
  let finalText = '';
  const timer = setTimeout(() => stream.controller.abort(), 90_000);
  try {
    for await (const event of stream) {
      seen.push(event.type);
      if (event.type === 'agent.message') finalText = event.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      if (event.type === 'session.status_idle') break;
    }
  } finally {
    clearTimeout(timer);
  }
  assert.deepEqual(seen, QUICKSTART_TURN_EVENT_TYPES, `${serve.output()}\n${worker.output()}`);
  assert.match(finalText, /229/);
  assert.match(finalText, /5117/);
  assert.notEqual(runningContainers(session.id), '', 'the worker runs the sandbox');

  // A deployment's run happens with `serve` gone: its Schedule fires (triggered here), the worker creates the session.
  const deployment = await client.beta.deployments.create({
    name: 'nightly',
    agent: agent.id,
    environment_id: environment.id,
    initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'What is in my workspace?' }] }],
    schedule: { type: 'cron', expression: '0 3 * * *', timezone: 'UTC' },
  });
  // A stream left open must not hold `serve` up.
  const open = await client.beta.sessions.events.stream(session.id);
  const serveExit = await stopWith(serve, 'SIGTERM');
  assert.deepEqual(serveExit, { code: 0, signal: null }, serve.output());
  assert.match(serve.output(), /stopping \(SIGTERM\)…\n(.*\n)*stopped\n/);
  open.controller.abort();

  const temporalConnection = await Connection.connect({ address: temporal.address });
  const engineStore = await openEngineStore({ databaseUrl });
  try {
    const schedule = new Client({ connection: temporalConnection }).schedule.getHandle(scheduleIdOf(deployment.id));
    await schedule.trigger();
    const runs = new DeploymentStore(engineStore.driver);
    let run: DeploymentRun | undefined;
    for (const deadline = Date.now() + 60_000; run === undefined; ) {
      run = (await runs.listRuns({ limit: 1, deploymentId: deployment.id })).data[0];
      if (Date.now() > deadline) assert.fail(`no run within 60 s\n${worker.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(run.error, null);
    assert.equal(run.trigger_context.type, 'schedule');
    sessions.push(run.session_id!);
    for (const deadline = Date.now() + 90_000; ; ) {
      const events = await engineStore.store.listEvents(run.session_id!, { limit: 1000 });
      if (events.some((e) => e.event.type === 'session.status_idle')) break;
      if (Date.now() > deadline) assert.fail(`the run's session did not idle within 90 s\n${worker.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await schedule.delete();
  } finally {
    await engineStore.store.close();
    await temporalConnection.close();
  }

  const workerExit = await stopWith(worker, 'SIGTERM');
  assert.deepEqual(workerExit, { code: 0, signal: null }, worker.output());
  assert.match(worker.output(), /draining \(SIGTERM\)…\n(.*\n)*stopped\n/);
  assert.equal(runningContainers(session.id), '', 'the worker removed its sandbox containers');
});

test('longhaul serve --with-worker --scripted-model is API and worker in one process', { timeout: 300_000 }, async () => {
  const env = cliEnv({ DATABASE_URL: await postgres.createDatabase(), TEMPORAL_ADDRESS: temporal.address, LONGHAUL_TASK_QUEUE: `serve-with-worker-${process.pid}`, LONGHAUL_API_KEY: API_KEY });
  const misplaced = await runCli(['serve', '--scripted-model'], env);
  assert.equal(misplaced.code, 2);
  assert.match(misplaced.stderr, /--scripted-model is a worker option: add --with-worker/);

  const port = await freePort();
  const serve = await startCli(['serve', '--with-worker', '--scripted-model', '--data-dir', dataDir, '--port', String(port)], env, 'longhaul serve is ready');
  assert.match(serve.output(), /^stdout:\nmodel: scripted demo model \(--scripted-model\) — not Claude\n/);
  assert.match(serve.output(), /with a worker in this process/);

  const { session, finalText } = await runQuickstart(port);
  assert.match(finalText, /largest prime is 229 and the sum of all 50 primes is 5117/, serve.output());

  assert.deepEqual(await stopWith(serve, 'SIGTERM'), { code: 0, signal: null }, serve.output());
  assert.equal(runningContainers(session.id), '', 'its sandbox containers are removed on the way out');
});

test('two workers on one data folder: the first to stop leaves the sandboxes to the other, the last one removes them', { timeout: 300_000 }, async () => {
  const engine = { DATABASE_URL: await postgres.createDatabase(), TEMPORAL_ADDRESS: temporal.address, LONGHAUL_TASK_QUEUE: `two-workers-${process.pid}` };
  const workers = [];
  for (let i = 0; i < 2; i++) workers.push(await startCli(['worker', '--scripted-model', '--data-dir', dataDir], cliEnv(engine), 'longhaul worker is ready'));
  const port = await freePort();
  const serve = await startCli(['serve', '--port', String(port)], cliEnv({ ...engine, LONGHAUL_API_KEY: API_KEY }), 'longhaul serve is ready');
  const { session } = await runQuickstart(port);
  assert.notEqual(runningContainers(session.id), '');

  const [first, last] = workers as [Started, Started];
  assert.deepEqual(await stopWith(first, 'SIGTERM'), { code: 0, signal: null }, first.output());
  assert.match(first.output(), /sandbox containers left running: 1 other worker\(s\)/);
  assert.notEqual(runningContainers(session.id), '', 'the other worker still serves the session');

  assert.deepEqual(await stopWith(last, 'SIGTERM'), { code: 0, signal: null }, last.output());
  assert.doesNotMatch(last.output(), /left running/);
  assert.equal(runningContainers(session.id), '', 'the last worker removed them');
  await stopWith(serve, 'SIGTERM');
});

/** The quickstart task in a new session through the SDK against `serve` on `port`, until the session idles; its last message. */
async function runQuickstart(port: number): Promise<{ session: { id: string }; finalText: string }> {
  const client = new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey: API_KEY, maxRetries: 0 });
  const agent = await client.beta.agents.create({ name: 'coder', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: 'env' });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  sessions.push(session.id);
  const stream = await client.beta.sessions.events.stream(session.id);
  await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: QUICKSTART_TASK }] }] });
  const timer = setTimeout(() => stream.controller.abort(), 90_000);
  let finalText = '';
  try {
    for await (const event of stream) {
      if (event.type === 'agent.message') finalText = event.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      if (event.type === 'session.status_idle') break;
    }
  } finally {
    clearTimeout(timer);
  }
  return { session, finalText };
}
