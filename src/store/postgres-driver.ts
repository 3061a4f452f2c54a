import postgres from 'postgres';
import type { Row, SqlDriver, SqlExecutor } from './sql-driver.ts';

/** PostgreSQL over the wire (postgres.js). `url` is a `postgres://` connection string. */
export async function openPostgresDriver({ url, maxConnections = 10 }: { url: string; maxConnections?: number }): Promise<SqlDriver> {
  const sql = postgres(url, { max: maxConnections, onnotice: () => {}, prepare: true });
  const executor = (q: postgres.Sql | postgres.TransactionSql): SqlExecutor => ({
    async query<T extends Row>(text: string, params: readonly unknown[] = []) {
      const rows = await q.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
      return rows as unknown as T[];
    },
  });
  await sql`SELECT 1`;
  return {
    ...executor(sql),
    transaction: async (fn) => (await sql.begin((tx) => fn(executor(tx)))) as Awaited<ReturnType<typeof fn>>,
    exec: async (text) => {
      await sql.unsafe(text);
    },
    notify: async (channel, payload) => {
      await sql.notify(channel, payload);
    },
    listen: async (channel, onPayload, onListening) => {
      // postgres.js listens again on a new connection after a lost one, and says so each time.
      const { unlisten } = await sql.listen(channel, onPayload, onListening);
      return unlisten;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}
