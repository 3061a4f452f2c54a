import { PGlite } from '@electric-sql/pglite';
import type { Row, SqlDriver, SqlExecutor } from './sql-driver.ts';

/**
 * Embedded PostgreSQL (PGlite, WASM, in-process). `dataDir` persists the
 * database to a folder; omit it for an in-memory database.
 */
export async function openPgliteDriver({ dataDir }: { dataDir?: string | undefined } = {}): Promise<SqlDriver> {
  const db = dataDir === undefined ? await PGlite.create() : await PGlite.create({ dataDir });
  const executor = (q: Pick<PGlite, 'query'>): SqlExecutor => ({
    async query<T extends Row>(sql: string, params: readonly unknown[] = []) {
      const result = await q.query<T>(sql, params as unknown[]);
      return result.rows;
    },
  });
  return {
    ...executor(db),
    transaction: (fn) => db.transaction((tx) => fn(executor(tx))),
    exec: async (sql) => {
      await db.exec(sql);
    },
    notify: async (channel, payload) => {
      await db.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    listen: async (channel, onPayload) => {
      const unlisten = await db.listen(channel, onPayload);
      return unlisten;
    },
    close: () => db.close(),
  };
}
