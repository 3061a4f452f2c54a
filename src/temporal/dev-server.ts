import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
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
  /** More `temporal server start-dev` arguments, e.g. `--dynamic-config-value k=v`. */
  extraArgs?: readonly string[];
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
export async function startDevServer({ port = 7233, uiPort = port + 1000, dbFile, namespace = 'default', startTimeoutMs = 30_000, logFile, extraArgs = [] }: DevServerOptions = {}): Promise<DevServer> {
  const address = `127.0.0.1:${port}`;
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  if (await isServing(address)) {
    return { address, uiUrl, started: false, process: undefined, stop: async () => {}, [Symbol.asyncDispose]: async () => {} };
  }
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--namespace', namespace, '--log-level', 'warn'];
  if (dbFile) {
    mkdirSync(dirname(dbFile), { recursive: true });
    args.push('--db-filename', dbFile);
  }
  args.push(...extraArgs);
  const stdio = logFile ? (await import('node:fs')).openSync(logFile, 'a') : 'ignore';
  const child = spawn(findTemporalCli(), args, { stdio: ['ignore', stdio, stdio], detached: false });
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + startTimeoutMs;
  while (!(await isServing(address))) {
    if (exited !== null) throw new Error(`temporal server start-dev exited with code ${exited}${logFile ? `; see ${logFile}` : ''}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`temporal server start-dev did not answer on ${address} within ${startTimeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
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

async function isServing(address: string): Promise<boolean> {
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
