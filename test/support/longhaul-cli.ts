import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataDirLayout } from '../../src/config/dev-config.ts';
import { stopOrphanDevServers } from '../../src/temporal/dev-server.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'bin', 'longhaul.js');

/**
 * The environment for a `longhaul` child: this process's, minus every variable `serve`,
 * `worker` and `dev` read, plus `extra` — so a developer's own settings never leak in.
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(ANTHROPIC_|LONGHAUL_|TEMPORAL_ADDRESS$|TEMPORAL_NAMESPACE$|DATABASE_URL$)/.test(name)) delete env[name];
  }
  return { ...env, LONGHAUL_LOG_LEVEL: 'WARN', ...extra };
}

export type LonghaulProcess = {
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/** Spawns `longhaul <args>` and waits for `readyLine` on stdout (or fails with everything it printed). */
export async function startLonghaul(args: string[], env: NodeJS.ProcessEnv, readyLine: string, timeoutMs = 120_000): Promise<LonghaulProcess> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const output = () => `stdout:\n${stdout}\nstderr:\n${stderr}`;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + timeoutMs;
  while (!stdout.includes(readyLine)) {
    if (child.exitCode !== null) assert.fail(`longhaul ${args[0]} exited with ${child.exitCode}\n${output()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      assert.fail(`longhaul ${args[0]} not ready after ${timeoutMs} ms\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output, exited };
}

/** SIGKILL, and wait for the exit: no shutdown hook runs, as in a crash. */
export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/**
 * After a failed `longhaul dev` test: the dev process killed if it still runs, and the
 * Temporal dev server it started stopped too. That server has a process group of its own
 * (so a terminal's Ctrl-C does not reach it before dev is done with it), and outlives a
 * killed dev; left running, it would take CPU and ports from the files after it.
 */
export async function killDev(child: ChildProcess | undefined, dataDir: string): Promise<void> {
  if (child) await kill9(child);
  await stopOrphanDevServers(dataDirLayout(dataDir).temporalDb);
}

export type LonghaulResult = { code: number | null; stdout: string; stderr: string };

/** Runs `longhaul <args>` to the end; fails if it takes longer than `timeoutMs`. */
export function runLonghaul(args: string[], { env, timeoutMs = 120_000 }: { env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<LonghaulResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`longhaul ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
