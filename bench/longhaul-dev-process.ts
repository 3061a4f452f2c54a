import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READY_LINE } from '../src/cli/dev-command.ts';
import { dataDirLayout } from '../src/config/dev-config.ts';
import { freePort } from '../src/net/free-port.ts';
import { stopOrphanDevServers } from '../src/temporal/dev-server.ts';
import { removeSessionSandboxes, unmountDisksUnder } from '../test/support/docker.ts';
import { cliEnv } from '../test/support/longhaul-cli.ts';
import { removeEngineContainers } from './engine-containers.ts';
import { commandLineOf, readProcesses } from './process-usage.ts';
import { progress } from './stats.ts';

const API_KEY = 'lh-bench-concurrency-key';
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 60_000;

/** A running `longhaul dev` child; disposing it stops it and removes everything it made. */
export type LonghaulDevProcess = {
  apiUrl: string;
  apiKey: string;
  /** Its throwaway data folder. */
  dataDir: string;
  /** `node bin/longhaul.js dev`: the API, the worker and the store. */
  pid: number;
  /** The Temporal dev server it started, its child. */
  temporalPid: number;
  /** Sessions whose sandbox volumes to remove at the end: `longhaul dev` keeps workspaces across restarts. */
  sessionIds: Set<string>;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * Starts `longhaul dev` from the checkout at `root` on free ports with a throwaway
 * data folder, its model at `modelUrl` (a key is set, so it does not serve its own
 * demo script), and waits until it says it is ready.
 *
 * @example
 * await using dev = await startLonghaulDev({ root, modelUrl: model.url });
 * const client = new Anthropic({ baseURL: dev.apiUrl, apiKey: dev.apiKey });
 */
export async function startLonghaulDev({ root, modelUrl, env: extraEnv = {} }: { root: string; modelUrl: string; env?: Record<string, string> }): Promise<LonghaulDevProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'longhaul-bench-dev-'));
  const layout = dataDirLayout(dataDir);
  const port = await freePort();
  const args = ['dev', '--data-dir', dataDir, '--port', String(port), '--temporal-port', String(await freePort())];
  const env = cliEnv({ ...extraEnv, ANTHROPIC_API_KEY: 'bench-model', ANTHROPIC_BASE_URL: modelUrl, LONGHAUL_API_KEY: API_KEY });
  const child = spawn(process.execPath, [join(root, 'bin', 'longhaul.js'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (data: Buffer) => {
      output = `${output}${data.toString()}`.slice(-20_000);
      if (output.includes(READY_LINE)) resolve();
    });
  });
  child.stderr.on('data', (data: Buffer) => {
    output = `${output}${data.toString()}`.slice(-20_000);
    progress(`longhaul dev: ${data.toString().trimEnd()}`);
  });

  const sessionIds = new Set<string>();
  let killed = false;
  // A bench stopped by `kill` stops its `longhaul dev` first: otherwise the child, its Temporal
  // server and its sandboxes would outlive it. Ctrl-C needs nothing: the terminal sends it to
  // the child too, which stops itself (and would take a second SIGINT as "exit at once").
  const onTerm = () => {
    progress('SIGTERM: stopping longhaul dev first');
    void dispose().finally(() => process.kill(process.pid, 'SIGTERM'));
  };
  process.once('SIGTERM', onTerm);
  const dispose = async () => {
    process.off('SIGTERM', onTerm);
    if (child.exitCode === null && child.signalCode === null) {
      // As Ctrl-C: it stops its worker, removes its sandbox containers and stops its Temporal server.
      child.kill('SIGINT');
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS)))]);
      clearTimeout(timer);
      if (!stopped) {
        progress(`longhaul dev did not stop within ${STOP_TIMEOUT_MS / 1000} s: killing it`);
        killed = true;
        child.kill('SIGKILL');
        await exited;
      }
    }
    await stopOrphanDevServers(layout.temporalDb);
    await removeSessionSandboxes(layout.sandboxes, [...sessionIds]).catch((error: unknown) => progress(`while removing sandboxes: ${String(error)}`));
    const left = await removeEngineContainers(dataDir).catch((error: unknown) => progress(`while removing containers: ${String(error)}`));
    if (left) progress(`removed ${left} container(s) longhaul dev left`);
    // A killed dev never unmounts its session disks, and a mounted folder cannot be removed.
    if (killed) unmountDisksUnder(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (outcome !== 'ready') throw new Error(`longhaul dev (${root}) ${outcome === 'exited' ? `exited with ${child.exitCode}` : `not ready after ${READY_TIMEOUT_MS / 1000} s`}:\n${output}`);
    return { apiUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY, dataDir, pid: child.pid!, temporalPid: temporalServerOf(child.pid!), sessionIds, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** The `temporal server start-dev` child of `pid`. */
function temporalServerOf(pid: number): number {
  const child = [...readProcesses().values()].find((p) => p.ppid === pid && commandLineOf(p.pid).includes('start-dev'));
  if (!child) throw new Error(`longhaul dev (pid ${pid}) has no Temporal dev server child`);
  return child.pid;
}
