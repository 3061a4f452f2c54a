/**
 * Configuration of the production commands, `longhaul serve` and `longhaul worker`:
 * each setting from its flag, else its environment variable, else a default. Every
 * mistake is a `ConfigError` whose message names the flag and the variable.
 */
import { DEFAULT_TASK_QUEUE } from '../../workflows/contract.ts';
import { ConfigError, resolveApiPort } from './dev-config.ts';

/** Temporal frontend when neither `--temporal-address` nor `TEMPORAL_ADDRESS` is given. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';
/** Address `longhaul serve` listens on when neither `--host` nor `LONGHAUL_HOST` is given. */
export const DEFAULT_SERVE_HOST = '127.0.0.1';

/** What `serve` and `worker` both need: where Temporal and the store are. */
export type EngineConfig = {
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  /** A `postgres://` or `postgresql://` connection string. Holds a password: print it with `redactDatabaseUrl`. */
  databaseUrl: string;
};

export type EngineFlags = {
  temporalAddress?: string | undefined;
  temporalNamespace?: string | undefined;
  taskQueue?: string | undefined;
  databaseUrl?: string | undefined;
};

export type ServeConfig = EngineConfig & {
  port: number;
  host: string;
  /** Keys clients may present. Never printed. */
  apiKeys: string[];
};

export type ServeFlags = EngineFlags & { port?: string | undefined; host?: string | undefined };

/**
 * Temporal (`--temporal-address` / `TEMPORAL_ADDRESS`, `--namespace` / `TEMPORAL_NAMESPACE`),
 * the task queue (`--task-queue` / `LONGHAUL_TASK_QUEUE`) and the PostgreSQL store
 * (`--database-url` / `DATABASE_URL`, required).
 */
export function resolveEngineConfig({ flags, env = process.env }: { flags: EngineFlags; env?: NodeJS.ProcessEnv }): EngineConfig {
  const databaseUrl = flags.databaseUrl?.trim() || nonEmpty(env['DATABASE_URL']);
  if (databaseUrl === undefined) {
    throw new ConfigError(
      'no database: set DATABASE_URL (or --database-url) to a PostgreSQL connection string, e.g. postgres://user:password@host:5432/longhaul; ' +
        '`longhaul dev` is the command that needs none',
    );
  }
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL (or --database-url) must be a postgres:// or postgresql:// URL, got ${JSON.stringify(redactDatabaseUrl(databaseUrl))}`);
  }
  return {
    temporalAddress: flags.temporalAddress?.trim() || nonEmpty(env['TEMPORAL_ADDRESS']) || DEFAULT_TEMPORAL_ADDRESS,
    temporalNamespace: flags.temporalNamespace?.trim() || nonEmpty(env['TEMPORAL_NAMESPACE']) || DEFAULT_TEMPORAL_NAMESPACE,
    taskQueue: flags.taskQueue?.trim() || nonEmpty(env['LONGHAUL_TASK_QUEUE']) || DEFAULT_TASK_QUEUE,
    databaseUrl,
  };
}

/**
 * Everything `longhaul serve` needs. The API keys come from `LONGHAUL_API_KEYS`
 * (comma-separated) and `LONGHAUL_API_KEY`; there is no flag, so keys stay out of
 * process listings and shell history. A server with no key refuses to start.
 *
 * @example
 * const config = resolveServeConfig({ flags: {}, env: { DATABASE_URL: 'postgres://db/longhaul', LONGHAUL_API_KEY: 'k' } });
 * config.port; // 4000
 */
export function resolveServeConfig({ flags, env = process.env }: { flags: ServeFlags; env?: NodeJS.ProcessEnv }): ServeConfig {
  const apiKeys = resolveApiKeys(env);
  return {
    ...resolveEngineConfig({ flags, env }),
    port: resolveApiPort({ flag: flags.port, env }),
    host: flags.host?.trim() || nonEmpty(env['LONGHAUL_HOST']) || DEFAULT_SERVE_HOST,
    apiKeys,
  };
}

/** `LONGHAUL_API_KEYS` (comma-separated) plus `LONGHAUL_API_KEY`, de-duplicated; at least one. */
export function resolveApiKeys(env: NodeJS.ProcessEnv = process.env): string[] {
  const keys = [...(env['LONGHAUL_API_KEYS'] ?? '').split(','), env['LONGHAUL_API_KEY'] ?? ''].map((key) => key.trim()).filter(Boolean);
  if (keys.length === 0) {
    throw new ConfigError('no API key: set LONGHAUL_API_KEYS (comma-separated) or LONGHAUL_API_KEY to the keys clients must send; the server does not run open');
  }
  return [...new Set(keys)];
}

/** Which model the worker calls. `scripted` is the built-in demo script, not Claude. */
export type WorkerModelConfig = { kind: 'anthropic'; apiKey: string; baseUrl: string | undefined } | { kind: 'scripted' };

/**
 * The worker's model: Claude from `ANTHROPIC_API_KEY` (and `ANTHROPIC_BASE_URL`), or
 * the scripted demo model when `scriptedModel` is asked for. Neither is an error: a
 * production worker never falls back to the script silently.
 */
export function resolveWorkerModel({ scriptedModel = false, env = process.env }: { scriptedModel?: boolean | undefined; env?: NodeJS.ProcessEnv }): WorkerModelConfig {
  if (scriptedModel) return { kind: 'scripted' };
  const apiKey = nonEmpty(env['ANTHROPIC_API_KEY']);
  if (apiKey === undefined) {
    throw new ConfigError('no model: set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for another Anthropic-compatible endpoint), or pass --scripted-model to run the demo script instead of Claude');
  }
  return { kind: 'anthropic', apiKey: apiKey.trim(), baseUrl: nonEmpty(env['ANTHROPIC_BASE_URL'])?.trim() };
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
