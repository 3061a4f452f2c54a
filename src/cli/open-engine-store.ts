import { redactDatabaseUrl } from '../config/server-config.ts';
import { migrateSchema } from '../store/migrate-schema.ts';
import { openPostgresDriver } from '../store/postgres-driver.ts';
import { SessionStore } from '../store/session-store.ts';
import type { SqlDriver } from '../store/sql-driver.ts';
import { CliError } from './cli-error.ts';

/** Advisory-lock key ("LHMG") serialising schema migrations across `serve` and `worker` processes. */
const MIGRATION_LOCK_KEY = 0x4c484d47;

/**
 * The PostgreSQL store of `serve` and `worker`, schema brought up to date, and its
 * driver (the store owns it; the API's resource stores share it). A clear message
 * when the database cannot be reached.
 *
 * Several processes often start at once on a fresh database (a deployment rolls
 * out the server and its workers together), and two migrations racing each other
 * fail on PostgreSQL's catalog; so migrations run under an advisory lock, held on a
 * connection of its own and released when that connection closes.
 */
export async function openEngineStore({ databaseUrl }: { databaseUrl: string }): Promise<{ store: SessionStore; driver: SqlDriver }> {
  let driver: SqlDriver;
  try {
    driver = await openPostgresDriver({ url: databaseUrl });
  } catch (error) {
    throw new CliError(`could not connect to PostgreSQL at ${redactDatabaseUrl(databaseUrl)} (${firstLine(error)}); check DATABASE_URL`, { cause: error });
  }
  try {
    const lock = await openPostgresDriver({ url: databaseUrl, maxConnections: 1 });
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await migrateSchema(driver);
    } finally {
      await lock.close();
    }
    return { store: await SessionStore.open(driver), driver };
  } catch (error) {
    await driver.close().catch(() => {});
    throw error;
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
