/**
 * End to end, as a user types it: `longhaul dev` as a real child process (no API key,
 * so the scripted demo model), then `longhaul run` against it through the SDK, then
 * Ctrl-C. Needs Docker, the sandbox image and the Temporal CLI (scripts/setup.sh).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { commandLineOf, readProcesses } from '../../bench/process-usage.ts';
import { QUICKSTART_TASK } from '../../src/testing/index.ts';
import { removeSessionSandboxes } from '../support/docker.ts';
import { killDev, runLonghaul, type LonghaulResult } from '../support/longhaul-cli.ts';
import { freePort } from '../../src/net/free-port.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'bin', 'longhaul.js');

/** The child's environment: none of the variables that would change what `dev` and `run` pick. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'LONGHAUL_API_KEY', 'LONGHAUL_URL', 'LONGHAUL_PORT', 'LONGHAUL_DATA_DIR']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

function runCli(args: string[], { env = cliEnv(), timeoutMs = 120_000 }: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<LonghaulResult> {
  return runLonghaul(args, { env, timeoutMs });
}

const sessionIdsIn = (text: string) => [...text.matchAll(/session (sesn_[0-9A-Za-z]+)/g)].map((m) => m[1]!);
// By name: a sandbox claimed from dev's warm pool keeps the pool's labels.
const runningContainers = (sessionId: string) => execFileSync('docker', ['ps', '-q', '--filter', `name=^longhaul-sbx-${sessionId}$`]).toString().trim();

let dataDir: string;
let dev: ChildProcess | undefined;
let devStdout = '';
let devStderr = '';
const sessions: string[] = [];

before(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'longhaul-cli-'));
});

after(async () => {
  await killDev(dev, dataDir);
  await removeSessionSandboxes(join(dataDir, 'sandboxes'), sessions);
  rmSync(dataDir, { recursive: true, force: true });
});

test('longhaul run without a running dev says how to start one', async () => {
  const result = await runCli(['run', '--data-dir', dataDir, 'hello']);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /no `longhaul dev` is running/);
  assert.match(result.stderr, /\.\/longhaul dev/);
});

test('longhaul dev stops with one line when the sandbox image is missing', async () => {
  const result = await runCli(['dev', '--data-dir', dataDir, '--port', String(await freePort()), '--temporal-port', String(await freePort())], {
    env: cliEnv({ LONGHAUL_SANDBOX_IMAGE: 'longhaul-sandbox:no-such-tag' }),
  });
  assert.equal(result.code, 1);
  assert.match(result.stdout, /^model: scripted demo model \(no ANTHROPIC_API_KEY set\) — not Claude\n/);
  assert.deepEqual(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /sandbox image longhaul-sandbox:no-such-tag is not on the Docker host; build it with `bash scripts\/setup.sh`/);
});

test('longhaul dev + longhaul run do the quickstart with the scripted model, and Ctrl-C cleans up', { timeout: 300_000 }, async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'dev', '--data-dir', dataDir, '--port', String(port), '--temporal-port', String(await freePort())], {
    cwd: root,
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a shell gives a foreground command: Ctrl-C below goes to the whole group.
    detached: true,
  });
  dev = child;
  child.stdout!.on('data', (d: Buffer) => (devStdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (devStderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  // Ready (or dead) within two minutes: the first start bundles the workflows.
  const deadline = Date.now() + 120_000;
  while (!devStdout.includes('longhaul dev is ready')) {
    if (child.exitCode !== null) assert.fail(`longhaul dev exited with ${child.exitCode}\nstdout:\n${devStdout}\nstderr:\n${devStderr}`);
    if (Date.now() > deadline) assert.fail(`longhaul dev not ready after 120 s\nstdout:\n${devStdout}\nstderr:\n${devStderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(devStdout, /^model: scripted demo model \(no ANTHROPIC_API_KEY set\) — not Claude\n/, 'the model comes first');
  assert.match(devStdout, new RegExp(`API +http://127\\.0\\.0\\.1:${port}`));
  assert.match(devStdout, /API key +lh-dev-/);
  assert.match(devStdout, /Temporal UI +http:\/\/127\.0\.0\.1:\d+/);
  assert.match(devStdout, /sandboxes +Docker, \S+ · 2 kept warm, up to 64 after a burst of new sessions/);
  assert.doesNotMatch(devStdout, /\u001b/, 'no escape codes off a terminal');
  const devJson = join(dataDir, 'dev.json');
  assert.equal(statSync(devJson).mode & 0o777, 0o600);
  const info = JSON.parse(readFileSync(devJson, 'utf8')) as { api_url: string; api_key: string; pid: number; model: { kind: string } };
  assert.equal(info.pid, child.pid);
  assert.equal(info.model.kind, 'scripted');
  assert.ok(devStdout.includes(info.api_key), 'the key is printed');
  // The console is served beside the API, and links sessions to this dev server's Temporal UI.
  assert.match(devStdout, new RegExp(`Console +http://127\\.0\\.0\\.1:${port}/console/`));
  assert.equal((await fetch(`${info.api_url}/console/`)).status, 200);
  const consoleConfig = await fetch(`${info.api_url}/console/config.json`, { headers: { 'x-api-key': info.api_key } });
  assert.deepEqual(await consoleConfig.json(), { temporal_ui_url: /Temporal UI +(\S+)/.exec(devStdout)?.[1], temporal_namespace: 'default' });

  const run = await runCli(['run', '--data-dir', dataDir, QUICKSTART_TASK]);
  sessions.push(...sessionIdsIn(run.stdout));
  const out = run.stdout;
  assert.equal(run.code, 0, `stdout:\n${out}\nstderr:\n${run.stderr}`);
  assert.match(out.split('\n')[0]!, /^model: scripted demo model, not Claude/);
  assert.match(out, /▸ write primes\.py \(15 lines\)/);
  assert.match(out, /▸ bash \$ cd \/workspace && python3 primes\.py/);
  assert.match(out, /Largest prime: 229/);
  assert.match(out, /largest prime is 229 and the sum of all 50 primes is 5117/);
  assert.match(out, /✓ stop reason: end_turn \(the agent finished\) · [\d.]+ (s|ms) · 2 tool calls · 3 model requests/);
  assert.match(out, /tokens: [1-9]\d* input · [1-9]\d* output · \d+ cache read · \d+ cache write · \$0\.\d+ at list prices/);
  assert.doesNotMatch(out + run.stderr, /\u001b/, 'no spinner or colour escape codes off a terminal');
  assert.equal(run.stderr, '');

  // --json: the same events, one JSON object a line, and nothing else on stdout.
  const json = await runCli(['run', '--data-dir', dataDir, '--json', 'What is in my workspace?']);
  assert.equal(json.code, 0, json.stderr);
  const events = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; id: string });
  assert.equal(events.at(-1)?.type, 'session.status_idle');
  assert.ok(events.some((e) => e.type === 'agent.tool_use'));
  assert.match(json.stderr, /^model: scripted demo model, not Claude.*\nsession sesn_/);
  sessions.push(...sessionIdsIn(json.stderr));
  assert.equal(sessions.length, 2);
  for (const id of sessions) assert.notEqual(runningContainers(id), '', `a sandbox runs for ${id} while dev is up`);

  // Routines from the terminal: a bad cron is refused with the API's own words; a good one lists, runs, pauses, archives.
  const badCron = await runCli(['deployments', 'create', '--data-dir', dataDir, '--name', 'broken', '--cron', '0 25 * * *', 'say hi']);
  assert.equal(badCron.code, 1);
  assert.equal(badCron.stderr, 'longhaul: the API refused (400): schedule.expression: hour field "25": 25 is outside 0–23\n');
  const created = await runCli(['deployments', 'create', '--data-dir', dataDir, '--name', 'Morning report', '--cron', '0 8 * * 1-5', '--timezone', 'Europe/Berlin', 'What is in my workspace?']);
  assert.equal(created.code, 0, created.stderr);
  const deploymentId = /^deployment (depl_\S+) · Morning report · 0 8 \* \* 1-5 \(Europe\/Berlin\)\n/.exec(created.stdout)?.[1];
  assert.ok(deploymentId, created.stdout);
  assert.equal(created.stdout.match(/^ {2}next: \d{4}-\d{2}-\d{2}T0[67]:00:00\.000Z$/gm)?.length, 5, created.stdout);
  const listed = await runCli(['deployments', 'list', '--data-dir', dataDir]);
  assert.match(listed.stdout, new RegExp(`^${deploymentId} +Morning report +active +0 8 \\* \\* 1-5 \\(Europe/Berlin\\) +\\d{4}-`, 'm'));
  const started = await runCli(['deployments', 'run', '--data-dir', dataDir, deploymentId]);
  assert.equal(started.code, 0, started.stderr);
  const [, runId, runSession] = /^run (drun_\S+) started session (sesn_\S+)/.exec(started.stdout) ?? [];
  assert.ok(runId && runSession, started.stdout);
  sessions.push(runSession);
  const runs = await runCli(['runs', 'list', '--data-dir', dataDir, '--json']);
  assert.deepEqual(runs.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string; session_id: string }).session_id), [runSession]);
  assert.match((await runCli(['runs', 'list', '--data-dir', dataDir])).stdout, new RegExp(`^${runId} +${deploymentId} +manual `, 'm'));
  assert.match((await runCli(['deployments', 'pause', '--data-dir', dataDir, deploymentId])).stdout, new RegExp(`^deployment ${deploymentId} · paused\n$`));
  assert.match((await runCli(['deployments', 'archive', '--data-dir', dataDir, deploymentId])).stdout, /· archived\n$/);
  assert.equal((await runCli(['deployments', 'list', '--data-dir', dataDir])).stdout, 'no deployments yet: create one with `longhaul deployments create --name … --cron "0 8 * * 1-5" "<task>"`\n');

  // The Temporal server is not in dev's group: a terminal's Ctrl-C must not stop it before dev's worker.
  const processes = readProcesses();
  const temporal = [...processes.values()].find((p) => p.ppid === child.pid && commandLineOf(p.pid).includes('start-dev'));
  assert.ok(temporal !== undefined, 'longhaul dev runs its Temporal dev server');
  assert.notEqual(temporal.pgrp, processes.get(child.pid!)?.pgrp, 'the Temporal server has a process group of its own');
  process.kill(-child.pid!, 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    exited,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`dev did not exit within 60 s\n${devStdout}\n${devStderr}`)), 60_000))),
  ]).finally(() => clearTimeout(timer));
  assert.deepEqual(exit, { code: 0, signal: null }, `stdout:\n${devStdout}\nstderr:\n${devStderr}`);
  assert.match(devStdout, /stopping \(SIGINT\)…\n(.*\n)*stopped\n$/);
  assert.equal(existsSync(devJson), false, 'dev.json is removed');
  for (const id of sessions) assert.equal(runningContainers(id), '', `no sandbox container left for ${id}`);

  const afterStop = await runCli(['run', '--data-dir', dataDir, 'hello']);
  assert.equal(afterStop.code, 1);
  assert.match(afterStop.stderr, /no `longhaul dev` is running/);
});
