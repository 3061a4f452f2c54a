import type { Stats } from 'node:fs';
import { lstat, readdir, rmdir } from 'node:fs/promises';

// File operations where a missing path is an answer, not an error; any other failure still throws.

/** The path's own stats (a link's, not its target's), or undefined when nothing is there. */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** The folder's entries, or none when it does not exist. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

/** Removes an empty folder if it is there. A mount point or a folder with entries is refused, never emptied. */
export async function rmdirIfPresent(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}
