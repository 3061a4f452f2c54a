import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/net/free-port.ts';
import { openPostgresDriver } from '../../src/store/postgres-driver.ts';

/** A throwaway PostgreSQL server from the machine's Debian `postgresql` package. */
export type TestPostgres = {
  url: string;
  /** Creates an empty database on the server and returns its URL: one per test keeps tests independent. */
  createDatabase(): Promise<string>;
  /** Immediate shutdown (SIGQUIT: no checkpoint, crash recovery on the way up), then the server again on the same data and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

export function findPostgresBin(): string {
  const configured = process.env['LONGHAUL_PG_BIN_DIR'];
  if (configured && existsSync(join(configured, 'initdb'))) return configured;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb'))) return bin;
  }
  throw new Error('PostgreSQL server binaries not found: run `LONGHAUL_SETUP_POSTGRES=1 bash scripts/setup.sh` (installs Debian `postgresql`).');
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  const dir = mkdtempSync('/tmp/longhaul-pg-');
  chmodSync(dir, 0o700);
  // initdb refuses to run as root; as root, run the server as the package's `postgres` user.
  const user: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    user.uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    user.gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, user.uid, user.gid);
  }
  const run = (cmd: string, args: string[]) => execFileSync(join(bin, cmd), args, { stdio: 'pipe', ...user, cwd: dir });
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'longhaul', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'];
  const url = `postgres://longhaul@127.0.0.1:${port}/postgres`;
  let server: ChildProcess;
  const start = async () => {
    server = spawn(join(bin, 'postgres'), args, { stdio: 'ignore', ...user, cwd: dir });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const driver = await openPostgresDriver({ url, maxConnections: 1 });
        await driver.close();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`postgres did not start: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const halt = async (signal: NodeJS.Signals) => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const gone = new Promise((r) => server.once('exit', r));
    server.kill(signal);
    await gone;
  };
  await start();
  const stop = async () => {
    await halt('SIGINT');
    rmSync(dir, { recursive: true, force: true });
  };
  const restart = async () => {
    await halt('SIGQUIT');
    await start();
  };
  let databases = 0;
  const createDatabase = async () => {
    const name = `test_${++databases}`;
    const admin = await openPostgresDriver({ url, maxConnections: 1 });
    await admin.exec(`CREATE DATABASE ${name}`);
    await admin.close();
    return url.replace(/\/postgres$/, `/${name}`);
  };
  return { url, createDatabase, restart, stop, [Symbol.asyncDispose]: stop };
}
