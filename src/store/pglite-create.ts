import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';

/**
 * PGlite's PostgreSQL runs in WASM, whose memory only ever grows: every page its shared
 * buffers touch stays resident for the life of the process. 16 MB instead of PostgreSQL's
 * 128 MB keeps a restarted `longhaul dev` about 170 MiB smaller; the operating system's
 * page cache still holds the data files. Production runs on PostgreSQL itself.
 */
export const PGLITE_SETTINGS = ['shared_buffers = 16MB'];

/**
 * Opens PGlite, in memory or persisted to `dataDir`. A folder that holds no database yet is
 * initialised first in a short-lived child process: `initdb` grows the WASM memory to about
 * 600 MiB, which a process would otherwise keep for good (a worker thread does not give it
 * back either).
 */
export async function createPglite(dataDir: string | undefined): Promise<PGlite> {
  if (dataDir === undefined) return createInMemory();
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

/**
 * `LONGHAUL_PGLITE_TEMPLATE_DIR`: a folder where in-memory databases of every process keep
 * the fresh cluster they start from (the test suite sets it: hundreds of short-lived stores).
 */
export const PGLITE_TEMPLATE_DIR_ENV = 'LONGHAUL_PGLITE_TEMPLATE_DIR';

/** This process's copy of a fresh cluster's data folder, as a tarball. */
let freshCluster: Promise<Blob> | undefined;

/**
 * `initdb` costs about a second of CPU every time an in-memory database is made; starting
 * from a tarball of a fresh cluster's data folder costs a fifth of that (uncompressed: gzip
 * would double it). The first in-memory database of a process is made by `initdb` and
 * dumped before anything is written to it, unless the template folder holds that tarball
 * already; the ones after start from the copy. Each is its own cluster: the store's
 * identity and everything else is written by the migrations, after this.
 */
async function createInMemory(): Promise<PGlite> {
  if (freshCluster === undefined) {
    const cached = await readTemplate();
    if (cached) {
      freshCluster = Promise.resolve(cached);
    } else {
      const db = await PGlite.create({ postgresqlconf: PGLITE_SETTINGS });
      // Awaited before the caller writes anything, which would otherwise end up in the copy.
      const tarball = await db.dumpDataDir('none');
      freshCluster = Promise.resolve(tarball);
      void writeTemplate(tarball);
      return db;
    }
  }
  return PGlite.create({ loadDataDir: await freshCluster, postgresqlconf: PGLITE_SETTINGS });
}

/** The template's file name changes with PGlite's version and the settings, so an upgrade never loads an old cluster. */
async function templatePath(): Promise<string | undefined> {
  const dir = process.env[PGLITE_TEMPLATE_DIR_ENV]?.trim();
  if (!dir) return undefined;
  const manifest = new URL('../package.json', import.meta.resolve('@electric-sql/pglite'));
  const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string };
  const key = createHash('sha256').update(`${version}\n${PGLITE_SETTINGS.join('\n')}`).digest('hex').slice(0, 16);
  return join(dir, `fresh-cluster-${key}.tar`);
}

async function readTemplate(): Promise<Blob | undefined> {
  const path = await templatePath();
  if (path === undefined) return undefined;
  try {
    return new Blob([await readFile(path)]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Written under a temporary name and renamed, so a process reading it at the same time sees all of it or none. */
async function writeTemplate(tarball: Blob): Promise<void> {
  let temporary: string | undefined;
  try {
    const path = await templatePath();
    if (path === undefined) return;
    temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(temporary, new Uint8Array(await tarball.arrayBuffer()));
    await rename(temporary, path);
  } catch {
    // Only a cache: the next process makes its own.
    if (temporary !== undefined) await rm(temporary, { force: true });
  }
}
