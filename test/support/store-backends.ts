import { after, before } from 'node:test';
import { openPgliteDriver } from '../../src/store/pglite-driver.ts';
import { openPostgresDriver } from '../../src/store/postgres-driver.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

/**
 * The stores a suite runs on: in-memory PGlite in-process and on its own thread (as
 * `longhaul dev` runs it), and a fresh database on a PostgreSQL server this registers
 * for the test file (started before, stopped after).
 *
 * @example
 * const backends = storeBackends();
 * for (const [name, openDriver] of Object.entries(backends)) describe(name, () => { … });
 */
export function storeBackends(): Record<'pglite' | 'pglite-thread' | 'postgres', () => Promise<SqlDriver>> {
  let postgres: TestPostgres | undefined;
  before(async () => {
    postgres = await startPostgres();
  });
  after(async () => {
    await postgres?.stop();
  });
  return {
    pglite: () => openPgliteDriver(),
    'pglite-thread': () => openPgliteDriver({ placement: 'thread' }),
    postgres: async () => {
      if (!postgres) throw new Error('storeBackends: PostgreSQL is started in before()');
      return openPostgresDriver({ url: await postgres.createDatabase() });
    },
  };
}
