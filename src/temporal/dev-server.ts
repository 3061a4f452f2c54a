import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { findTemporalCli } from './find-temporal-cli.ts';

export type DevServerOptions = {
  /** gRPC port. Default 7233. */
  port?: number;
  /** Web UI port. Default port + 1000. */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; in memory when omitted. */
  dbFile?: string | undefined;
  namespace?: string;
  /** How long to wait for the server to answer. Default 30 s. */
  startTimeoutMs?: number;
  /** Where the CLI's output goes. Default: ignored. */
  logFile?: string | undefined;
  /**
   * Whether a server already answering on `port` may be used instead of starting one.
   * Default true. With false, a busy port is an error: a server that is not ours may
   * keep other engines' workflows, and sharing it makes engines run each other's sessions.
   */
  reuse?: boolean;
  /** More `temporal server start-dev` arguments. */
  extraArgs?: readonly string[];
  /**
   * Dynamic config values for the server. Default `LOW_LATENCY_DYNAMIC_CONFIG`.
   */
  dynamicConfig?: Readonly<Record<string, string | number | boolean>>;
  /** SQLite pragmas of the `dbFile`. Default `DURABLE_SQLITE_PRAGMAS`; unused in memory. */
  sqlitePragmas?: Readonly<Record<string, string>>;
  /**
   * Runs the server in a process group of its own, so a terminal's Ctrl-C (sent to the
   * whole foreground group) reaches only its owner, which stops it last, after its
   * workers. Sharing the group, the server stopped at once while the workers still had
   * activities to report: their shutdown then retried against nothing, and never ended.
   * A server its owner never stops (a `kill -9` of the owner) is what
   * `stopOrphanDevServers` finds. Default false.
   */
  ownProcessGroup?: boolean;
};

/**
 * The dev server's SQLite file in write-ahead-log mode, synced at checkpoints rather than
 * at every commit. The default (a rollback journal, fsync on every commit) made the Temporal
 * server the largest CPU cost of a step: every workflow task and activity completion is a
 * few commits. With these, a killed server or worker loses nothing (the log is in the OS's
 * page cache, replayed at the next open); only a power cut or kernel crash may lose the last
 * moments' commits, never corrupt the file. A production cluster's database makes the same
 * trade in its own settings (PostgreSQL's `synchronous_commit`; see the README).
 */
export const DURABLE_SQLITE_PRAGMAS: Readonly<Record<string, string>> = { journal_mode: 'wal', synchronous: 'normal' };

/**
 * The history service reads its transfer queue (which hands new workflow tasks
 * to matching) at most 20 times a second by default. With one busy session that
 * rate limit alone adds ~30 ms to every workflow task, i.e. ~60 ms to every
 * agent step (measured: 86 → 27 ms per two-activity step). Lifting it costs
 * nothing on a dev server; on a production cluster the same setting applies
 * per shard.
 */
/*
 * `system.enableActivityEagerExecution` lets the server hand a step's activity back in the
 * reply to the workflow task that scheduled it, instead of through matching (the SDK asks
 * for it by default): less server work per step. With 50 sessions at once the dev server's
 * CPU per step fell from about 10 to 8 ms (`BENCH_ONLY=concurrency`, alternate runs).
 */
export const LOW_LATENCY_DYNAMIC_CONFIG: Readonly<Record<string, number | boolean>> = {
  'history.transferProcessorMaxPollRPS': 10_000,
  'history.timerProcessorMaxPollRPS': 10_000,
  'system.enableActivityEagerExecution': true,
};

/** A Temporal dev server (the Temporal CLI's `server start-dev`), started or found running. */
export type DevServer = {
  address: string;
  uiUrl: string;
  /** False when an already-running server was reused. */
  started: boolean;
  process: ChildProcess | undefined;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * Reuses a Temporal server already listening on `port`, or starts the CLI's
 * dev server there and waits until it answers.
 */
export async function startDevServer({
  port = 7233,
  uiPort = port + 1000,
  dbFile,
  namespace = 'default',
  startTimeoutMs = 30_000,
  logFile,
  reuse = true,
  extraArgs = [],
  dynamicConfig = LOW_LATENCY_DYNAMIC_CONFIG,
  sqlitePragmas = DURABLE_SQLITE_PRAGMAS,
  ownProcessGroup = false,
}: DevServerOptions = {}): Promise<DevServer> {
  const address = `127.0.0.1:${port}`;
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  if (await isServing(address)) {
    if (!reuse) throw new Error(`another Temporal server already answers on ${address}`);
    return { address, uiUrl, started: false, process: undefined, stop: async () => {}, [Symbol.asyncDispose]: async () => {} };
  }
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--namespace', namespace, '--log-level', 'warn'];
  if (dbFile) {
    mkdirSync(dirname(dbFile), { recursive: true });
    args.push('--db-filename', dbFile);
    for (const [pragma, value] of Object.entries(sqlitePragmas)) args.push('--sqlite-pragma', `${pragma}=${value}`);
  }
  for (const [key, value] of Object.entries(dynamicConfig)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  args.push(...extraArgs);
  // The CLI picks free ports for its HTTP API, metrics and internal services by
  // binding and releasing them; with other servers starting at the same moment one
  // of those can be taken before the server binds it, and the CLI exits. A fresh
  // start picks fresh ports, so an early exit is retried.
  const deadline = Date.now() + startTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    const started = await launch(args, { logFile, ownProcessGroup }, address, deadline, startTimeoutMs);
    if (started.ok) return devServerOf(address, uiUrl, started.child);
    if (started.timedOut || attempt === MAX_START_ATTEMPTS || (await isServing(address))) {
      throw new Error(started.reason);
    }
  }
}

const MAX_START_ATTEMPTS = 3;

type Launch = { ok: true; child: ChildProcess } | { ok: false; timedOut: boolean; reason: string };

async function launch(
  args: readonly string[],
  { logFile, ownProcessGroup }: { logFile: string | undefined; ownProcessGroup: boolean },
  address: string,
  deadline: number,
  startTimeoutMs: number,
): Promise<Launch> {
  const log = logFile ? openSync(logFile, 'a') : undefined;
  // Without a log file, what it says before it answers is kept, so an early exit can say why.
  const child = spawn(findTemporalCli(), args, { stdio: ['ignore', log ?? 'ignore', log ?? 'pipe'], detached: ownProcessGroup });
  if (log !== undefined) closeSync(log);
  let said = '';
  child.stderr?.on('data', (chunk: Buffer) => (said = `${said}${chunk.toString()}`.slice(-16_384)));
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  while (!(await isServing(address))) {
    if (exited !== null) {
      const why = lastErrorLine(logFile ? readTail(logFile) : said);
      return { ok: false, timedOut: false, reason: `temporal server start-dev exited with code ${exited}${why ? `: ${why}` : ''}${logFile ? `; see ${logFile}` : ''}` };
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      return { ok: false, timedOut: true, reason: `temporal server start-dev did not answer on ${address} within ${startTimeoutMs} ms` };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ok: true, child };
}

function readTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').slice(-16_384);
  } catch {
    return '';
  }
}

/** The last line of what the CLI said that reports an error, cut to one readable line. */
function lastErrorLine(text: string): string | undefined {
  const lines = text.split('\n').filter((line) => /error|fatal|unable|failed/i.test(line));
  const line = lines.at(-1)?.trim();
  return line ? line.slice(0, 300) : undefined;
}

function devServerOf(address: string, uiUrl: string, child: ChildProcess): DevServer {
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };
  return { address, uiUrl, started: true, process: child, stop, [Symbol.asyncDispose]: stop };
}

/** True when a Temporal server answers its health check on `address`. */
export async function isServing(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 500 });
    try {
      await connection.healthService.check({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/**
 * Stops dev servers left running on `dbFile` by an engine that was killed without
 * stopping them (its child outlives a `kill -9`). Two servers must never share one
 * SQLite file. Linux only (it reads /proc); elsewhere it finds nothing.
 */
export async function stopOrphanDevServers(dbFile: string): Promise<number> {
  const { readdir, readFile } = await import('node:fs/promises');
  const entries = await readdir('/proc').catch(() => [] as string[]);
  let stopped = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`).catch(() => Buffer.alloc(0))).toString().split('\0');
    const at = argv.indexOf('--db-filename');
    if (!argv.includes('start-dev') || at < 0 || argv[at + 1] !== dbFile) continue;
    try {
      process.kill(Number(entry), 'SIGTERM');
      stopped += 1;
    } catch {
      // Gone already.
    }
  }
  for (let i = 0; i < 50 && stopped > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!(await anyServes(dbFile))) break;
  }
  return stopped;
}

async function anyServes(dbFile: string): Promise<boolean> {
  const { readdir, readFile } = await import('node:fs/promises');
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`).catch(() => Buffer.alloc(0))).toString().split('\0');
    const at = argv.indexOf('--db-filename');
    if (argv.includes('start-dev') && at >= 0 && argv[at + 1] === dbFile) return true;
  }
  return false;
}
