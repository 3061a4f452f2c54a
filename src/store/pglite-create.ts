import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';

/**
 * PGlite's PostgreSQL runs in WASM, whose memory only ever grows, and its shared buffers are
 * resident from start-up on, whole, for the life of the process. 16 MB instead of
 * PostgreSQL's 128 MB kept a restarted `longhaul dev` about 170 MiB smaller; 8 MB keeps an idle
 * one 8 MiB smaller again. Fewer buffers did not slow 50 sessions at once: with 4 MB, 55.9
 * steps/s and 32.0 ms of CPU per step; with 16 MB, 56.5–56.9 and 31.6–31.9. The operating
 * system's page cache still holds the data files. Production runs on PostgreSQL itself.
 */
export const PGLITE_SETTINGS = ['shared_buffers = 8MB'];

/**
 * Opens PGlite, in memory or persisted to `dataDir`. A folder that holds no database yet is
 * initialised first in a short-lived child process: `initdb` grows the WASM memory to about
 * 600 MiB, which a process would otherwise keep for good (a worker thread does not give it
 * back either).
 */
export async function createPglite(dataDir: string | undefined): Promise<PGlite> {
  if (dataDir === undefined) return PGlite.create({ postgresqlconf: PGLITE_SETTINGS });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initialiseInChild(dataDir);
  return PGlite.create({ dataDir, postgresqlconf: PGLITE_SETTINGS });
}

async function initialiseInChild(dataDir: string): Promise<void> {
  const pglite = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(pglite)});
const db = await PGlite.create({ dataDir: ${JSON.stringify(dataDir)}, postgresqlconf: ${JSON.stringify(PGLITE_SETTINGS)} });
await db.close();`;
  try {
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 120_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`could not create the embedded database in ${dataDir}${stderr ? `: ${stderr}` : ''}`, { cause: error });
  }
}
