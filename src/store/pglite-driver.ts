import type { Transaction } from '@electric-sql/pglite';
import { ConfigError } from '../config/dev-config.ts';
import { createPglite } from './pglite-create.ts';
import { PgliteStatements } from './pglite-statements.ts';
import { openPgliteThreadDriver } from './pglite-thread-driver.ts';
import type { Row, SqlDriver, SqlExecutor } from './sql-driver.ts';

/**
 * Where PGlite runs: `'in-process'` on the caller's event loop, or `'thread'` on a worker
 * thread of its own (`pglite-thread-driver.ts`). In-process, statements cost least and a
 * chain of them never yields, so its caller is served first while HTTP, SSE and the
 * Temporal worker sharing the loop wait, for a whole burst of sessions if need be. On the
 * thread the loop keeps turning; each statement costs a message each way and waits its
 * turn on the loop (`bench/store-thread.ts` has the figures).
 */
export const PGLITE_PLACEMENTS = ['in-process', 'thread'] as const;
export type PglitePlacement = (typeof PGLITE_PLACEMENTS)[number];

export type OpenPgliteDriverOptions = {
  /** A folder to persist the database to; omit it for an in-memory database. */
  dataDir?: string | undefined;
  /** Default `'in-process'`; `LONGHAUL_PGLITE=thread` moves `longhaul dev`'s to a `'thread'` (see `pglitePlacementFromEnv`). */
  placement?: PglitePlacement | undefined;
};

/**
 * Embedded PostgreSQL (PGlite, WASM). `dataDir` persists the database to a folder;
 * omit it for an in-memory database.
 *
 * @example
 * const driver = await openPgliteDriver({ dataDir: '.longhaul/store', placement: 'thread' });
 */
export async function openPgliteDriver({ dataDir, placement = 'in-process' }: OpenPgliteDriverOptions = {}): Promise<SqlDriver> {
  if (placement === 'thread') return openPgliteThreadDriver({ dataDir });
  const db = await createPglite(dataDir);
  const statements = new PgliteStatements(db);
  const executor = (tx?: Transaction): SqlExecutor => ({
    query: <T extends Row>(sql: string, params: readonly unknown[] = []) => statements.query<T>(sql, params, tx),
  });
  return {
    ...executor(),
    transaction: (fn) => db.transaction((tx) => fn(executor(tx))),
    exec: async (sql) => {
      await db.exec(sql);
    },
    notify: async (channel, payload) => {
      await db.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    listen: async (channel, onPayload, onListening) => {
      const unlisten = await db.listen(channel, onPayload);
      // In process, the subscription never drops: it starts once.
      onListening?.();
      return unlisten;
    },
    close: () => db.close(),
  };
}

/**
 * `LONGHAUL_PGLITE`: where `longhaul dev` runs its PGlite store, `in-process` (the default)
 * or `thread`. The thread frees the event loop (no stalls of a second under load), but
 * with 50 busy sessions it made steps slower as seen on the streams: p50 about 0.7 s against
 * 0.35 s when a step made ~35 statements, still 0.56 s against 0.35 s at about a dozen,
 * since each waits for a turn of a busy loop (the burst as a whole finished sooner).
 */
export function pglitePlacementFromEnv(env: NodeJS.ProcessEnv): PglitePlacement {
  const value = env['LONGHAUL_PGLITE']?.trim();
  if (!value) return 'in-process';
  if (!(PGLITE_PLACEMENTS as readonly string[]).includes(value)) {
    throw new ConfigError(`LONGHAUL_PGLITE must be one of ${PGLITE_PLACEMENTS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as PglitePlacement;
}
