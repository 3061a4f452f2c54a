import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Port of the HTTP API of `longhaul dev` when neither `--port` nor `LONGHAUL_PORT` is given. */
export const DEFAULT_API_PORT = 4000;
/** gRPC port of the Temporal dev server `longhaul dev` starts or reuses. Its web UI is on this + 1000. */
export const DEFAULT_TEMPORAL_PORT = 7233;
/** Data folder, relative to the working directory, when neither `--data-dir` nor `LONGHAUL_DATA_DIR` is given. */
export const DEFAULT_DATA_DIR = '.longhaul';

/** Where a `longhaul dev` keeps things, all under one data folder. */
export type DataDirLayout = {
  root: string;
  /** PGlite database (agents, environments, sessions, events). */
  store: string;
  /** Per-session executor sockets and tool-call journals (the workspaces themselves are Docker volumes). */
  sandboxes: string;
  /** Temporal dev server's SQLite file: sessions survive a restart of `longhaul dev`. */
  temporalDb: string;
  logs: string;
  /** Files derived from the code, kept to skip work on the next start (the workflow bundle); safe to delete. */
  cache: string;
  /** The generated API key, kept so scripts keep working across restarts. Mode 0600. */
  apiKeyFile: string;
};

/** `--data-dir`, else `LONGHAUL_DATA_DIR`, else `.longhaul` in `cwd`; always absolute. */
export function resolveDataDir({ flag, env = process.env, cwd = process.cwd() }: { flag?: string | undefined; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  return resolve(cwd, flag ?? nonEmpty(env['LONGHAUL_DATA_DIR']) ?? DEFAULT_DATA_DIR);
}

export function dataDirLayout(root: string): DataDirLayout {
  return {
    root,
    store: join(root, 'store'),
    sandboxes: join(root, 'sandboxes'),
    temporalDb: join(root, 'temporal', 'dev.sqlite'),
    logs: join(root, 'logs'),
    cache: join(root, 'cache'),
    apiKeyFile: join(root, 'api-key'),
  };
}

/** Parses a TCP port from a flag or environment variable; throws a message naming `source` when it is not one. */
export function parsePort(value: string, source: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ConfigError(`${source} must be a TCP port (1-65535), got ${JSON.stringify(value)}`);
  }
  return port;
}

/** `--port`, else `LONGHAUL_PORT`, else 4000. */
export function resolveApiPort({ flag, env = process.env }: { flag?: string | undefined; env?: NodeJS.ProcessEnv } = {}): number {
  if (flag !== undefined) return parsePort(flag, '--port');
  const fromEnv = nonEmpty(env['LONGHAUL_PORT']);
  return fromEnv === undefined ? DEFAULT_API_PORT : parsePort(fromEnv, 'LONGHAUL_PORT');
}

export type ApiKeySource = 'env' | 'generated' | 'file';

/**
 * The key clients of `longhaul dev` must send: `LONGHAUL_API_KEY` if set, else the one
 * generated on an earlier start (kept in the data folder), else a new one.
 */
export async function resolveDevApiKey({ layout, env = process.env }: { layout: DataDirLayout; env?: NodeJS.ProcessEnv }): Promise<{ key: string; source: ApiKeySource }> {
  const fromEnv = nonEmpty(env['LONGHAUL_API_KEY']);
  if (fromEnv !== undefined) return { key: fromEnv, source: 'env' };
  try {
    const saved = (await readFile(layout.apiKeyFile, 'utf8')).trim();
    if (saved) return { key: saved, source: 'file' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = `lh-dev-${randomBytes(24).toString('base64url')}`;
  await mkdir(layout.root, { recursive: true });
  await writeFile(layout.apiKeyFile, `${key}\n`, { mode: 0o600 });
  await chmod(layout.apiKeyFile, 0o600);
  return { key, source: 'generated' };
}

/** A configuration mistake the user can fix; the CLI prints its message alone, without a stack. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
