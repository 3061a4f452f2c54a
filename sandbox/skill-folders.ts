import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SkillInstall, SkillInstallFile } from './types.ts';

/** A skill's bytes are not what was recorded: the version was deleted or cut short while it was copied. */
export class SkillContentMismatchError extends Error {
  override readonly name = 'SkillContentMismatchError';
}

/** Host folders of a session disk's skills: `root` is what the sandbox sees (read-only) at `/mnt/skills`; `staging` it never sees. */
export type SkillFolders = { root: string; staging: string };

const FOLDER = /^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?$/;

/**
 * Writes skills into a session disk's `skills/` folder from the host, as root. The sandbox
 * cannot write there at all (its mount is read-only and the folder is root's), so nothing
 * here meets a link or a file the agent planted; paths are checked all the same, and every
 * file is made new (`O_EXCL | O_NOFOLLOW`). Each skill is written in full under `staging`
 * (on the same disk, out of the sandbox's sight) and then renamed into place, so a folder
 * under `root` is always complete: one that exists is left alone, and two workers racing
 * leave one copy. Files are root's, mode 0644 (0755 when they start with `#!`), folders 0755.
 * Returns the folders this call settled (in place, or left out because `files` had none).
 */
export async function installSkillFolders({ root, staging }: SkillFolders, skills: readonly SkillInstall[]): Promise<string[]> {
  const settled: string[] = [];
  for (const skill of skills) {
    if (!FOLDER.test(skill.folder)) throw new TypeError(`skill folder ${JSON.stringify(skill.folder)} is not a name of lowercase letters, digits and -`);
    const target = join(root, skill.folder);
    if (await isDirectory(target)) {
      settled.push(skill.folder);
      continue;
    }
    const files = await skill.files();
    if (files === undefined) {
      settled.push(skill.folder);
      continue;
    }
    const temporary = join(staging, `${skill.folder}.${randomBytes(6).toString('hex')}`);
    await mkdir(temporary, { mode: 0o700 });
    try {
      for (const file of files) await writeFile(temporary, file);
      await open(temporary, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).then(async (handle) => {
        await handle.chmod(0o755).finally(() => handle.close());
      });
      await rename(temporary, target).catch((error: NodeJS.ErrnoException) => {
        // Another worker put it there first: theirs is as complete as ours.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
    settled.push(skill.folder);
  }
  return settled;
}

async function writeFile(folder: string, file: SkillInstallFile): Promise<void> {
  const parts = file.path.split('/');
  if (file.path.startsWith('/') || parts.some((part) => part === '' || part === '.' || part === '..') || file.path.includes('\0')) {
    throw new TypeError(`skill file path ${JSON.stringify(file.path)} is not a clean relative path`);
  }
  for (let depth = 1; depth < parts.length; depth++) await folderOf(join(folder, ...parts.slice(0, depth)));
  const handle = await open(join(folder, ...parts), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    // Exactly, whatever the umask.
    await handle.chmod(0o644);
    let written = 0;
    for await (const chunk of file.content()) {
      if (written === 0 && chunk.byteLength >= 2 && chunk[0] === 0x23 && chunk[1] === 0x21) await handle.chmod(0o755);
      written += chunk.byteLength;
      if (written > file.sizeBytes) throw new SkillContentMismatchError(`${file.path} grew past its recorded ${file.sizeBytes} bytes`);
      await handle.write(chunk);
    }
    if (written !== file.sizeBytes) throw new SkillContentMismatchError(`${file.path} holds ${written} bytes, not the recorded ${file.sizeBytes}`);
  } finally {
    await handle.close();
  }
}

/** A folder of a skill (mode 0755 exactly), made if missing; anything else there is refused. */
async function folderOf(path: string): Promise<void> {
  await mkdir(path, { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  await handle.chmod(0o755).finally(() => handle.close());
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
