import { constants } from 'node:fs';
import { lstat, mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sessionTrustDir } from './sandbox-resources.ts';
import { SandboxStartError } from './types.ts';

/**
 * A sandbox's host folder (a session's, or a warm pool slot's that becomes a session's),
 * closed to the sandbox: owned by this worker (root), mode 0700, so in the container only
 * the executor (root) can enter it; and its `trust/` folder, mounted read-only. Nothing
 * here is ever chowned, and nothing is followed: a folder that is not a plain directory
 * owned by root (a link, or an older layout's folder the agent could write) is removed,
 * links and all, and made anew, since what the agent could write there (the journal
 * included) cannot be trusted. With `fresh`, it is made anew in any case.
 *
 * @example
 * const dir = await prepareSessionFolder(join(dataDir, 'sesn_1'));
 */
export async function prepareSessionFolder(dir: string, { fresh = false }: { fresh?: boolean } = {}): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new SandboxStartError(
      'start_failed',
      'the Docker sandbox driver must run as root: the sandbox executor is root in its container, and only a root-owned host folder keeps the agent out of it',
    );
  }
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  // A missing folder is not a foreign one: another worker preparing the same new session may be
  // between its two mkdirs, and removing its folder then failed its chmod (ENOENT).
  if (fresh || (await directoryState(dir, 0o700)) === 'foreign' || (await directoryState(sessionTrustDir(dir), 0o755)) === 'foreign') {
    // rm does not follow links: a planted link is removed, not its target.
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await mkdir(sessionTrustDir(dir), { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  // mkdir's mode is masked by the umask; set it exactly, on the folder itself (O_NOFOLLOW).
  await chmodDirectory(dir, 0o700);
  await chmodDirectory(sessionTrustDir(dir), 0o755);
  return dir;
}

/** `own` when `path` is a real directory (not a link) owned by this process's uid with exactly `mode`; `missing`; else `foreign`. */
async function directoryState(path: string, mode: number): Promise<'own' | 'missing' | 'foreign'> {
  try {
    const info = await lstat(path);
    return info.isDirectory() && info.uid === process.getuid?.() && (info.mode & 0o7777) === mode ? 'own' : 'foreign';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}

async function chmodDirectory(path: string, mode: number): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}
