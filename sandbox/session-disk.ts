import { constants } from 'node:fs';
import { type FileHandle, mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { diskCommand, isMountPoint, mountImage, unmountAt } from './disk-mounts.ts';
import { lstatOrUndefined, readdirOrEmpty, rmdirIfPresent } from './fs-if-present.ts';
import { LegacySessionDisks } from './legacy-session-disks.ts';
import { SANDBOX_GID, SANDBOX_UID } from './sandbox-resources.ts';
import type { SkillFolders } from './skill-folders.ts';
import { SandboxStartError } from './types.ts';

/** Smallest disk a session may have: the file system's own structures need a few MiB. */
export const MIN_DISK_MB = 64;

/** Host paths of a mounted session disk, bind-mounted into the container. */
export type MountedDisk = {
  /** Becomes `/workspace`. */
  workspace: string;
  /** Becomes `/mnt/session`. */
  sessionFiles: string;
  /** Memory stores' folders (`<root>/<slug>`), when the session mounts any. */
  memory?: { root: string; stores: { slug: string; path: string; readOnly: boolean }[] } | undefined;
  /** The skills' folders: `root` becomes `/mnt/skills` (read-only), `staging` is where the worker writes a skill before it moves it there. */
  skills: SkillFolders;
};

/**
 * Each session's disk quota: an ext4 file system in a sparse image file of the quota's
 * size, loop-mounted on the worker's host and bind-mounted into the container at
 * `/workspace` and `/mnt/session`. A sandbox that fills it gets "No space left on
 * device"; the host's disk and the neighbours' stay free. The image costs only what is
 * written to it.
 *
 * Each disk has a folder of its own, `<root>/<name>`, holding its image (`disk.ext4`) and
 * its mount point (`mnt`), so the disk and its mount move as one: a warm pool container's
 * disk becomes a session's by one rename(2) of that folder (`adopt`), with no host command
 * and no change to the mount table. A folder is put in place whole, made under a temporary
 * name, so there is never an empty one a rename could replace.
 *
 * Nothing here trusts the sandbox: the file system's root is root's (mode 0755), so the
 * agent can write inside `workspace/` and `session/` but can never replace them with
 * links; the folders live in a root that only root can enter.
 *
 * The mount lives while the session's container does: `unmount` after the container is
 * removed (the image stays, the next container mounts it again), `remove` when the
 * session is deleted. `mount -o loop` reuses a loop device already attached to the
 * image, so a second mount (a new worker, a lost mount point) never attaches the same
 * file system twice.
 */
export class SessionDisks {
  readonly root: string;
  readonly #legacy: LegacySessionDisks | undefined;

  /** `legacyRoot`: where releases before disk folders kept disks; they are moved here when next mounted. */
  constructor(root: string, { legacyRoot }: { legacyRoot?: string } = {}) {
    this.root = root;
    this.#legacy = legacyRoot === undefined ? undefined : new LegacySessionDisks(legacyRoot);
  }

  /** The disk's folder: its image and its mount point. */
  folder(name: string): string {
    return join(this.root, name);
  }

  imagePath(name: string): string {
    return join(this.folder(name), IMAGE_FILE);
  }

  mountPath(name: string): string {
    return join(this.folder(name), MOUNT_FOLDER);
  }

  async exists(name: string): Promise<boolean> {
    return (await lstatOrUndefined(this.folder(name))) !== undefined || (await this.#legacy?.exists(name)) === true;
  }

  /** Creates the disk of `sizeMb` if it has none (an existing one keeps its size) and mounts it. */
  async mount(name: string, sizeMb: number): Promise<MountedDisk> {
    const moved = await this.#putInPlace(name, sizeMb);
    const target = this.mountPath(name);
    if (!(await isMountPoint(target))) await mountImage(this.imagePath(name), target, this.folder(name));
    // Mounted here first: the loop device the old mount holds is the one this mount took.
    if (moved) await this.#legacy?.retire(name);
    // Root's: the sandbox reads the skills through a read-only mount and never sees the staging folder.
    const skills = this.skillFolders(name);
    await rootFolder(skills.root, 0o755);
    await rootFolder(skills.staging, 0o700);
    return {
      workspace: await sandboxFolder(join(target, 'workspace')),
      sessionFiles: await sandboxFolder(join(target, 'session')),
      skills,
    };
  }

  /** Where the disk's skills are (`mount` makes the folders). */
  skillFolders(name: string): SkillFolders {
    const target = this.mountPath(name);
    return { root: join(target, 'skills'), staging: join(target, 'skills-staging') };
  }

  /**
   * The disk's `memory/` folder (root's, mode 0700: the sandbox reaches it only through
   * its mounts) with a folder per store: the sandbox user's for a read-write store, root's
   * for a read-only one. Idempotent; anything there that is not a real directory is refused.
   */
  async memoryFolders(disk: MountedDisk, name: string, mounts: readonly { slug: string; readOnly: boolean }[]): Promise<MountedDisk> {
    const root = join(this.mountPath(name), 'memory');
    await rootFolder(root, 0o700);
    const stores = [];
    for (const { slug, readOnly } of mounts) {
      const path = join(root, slug);
      if (readOnly) await rootFolder(path, 0o755);
      else await sandboxFolder(path);
      stores.push({ slug, path, readOnly });
    }
    return { ...disk, memory: { root, stores } };
  }

  /** Unmounts the disk (its container must be gone); the image stays. No-op when not mounted. */
  async unmount(name: string): Promise<void> {
    await unmountAt(this.mountPath(name));
    await this.#legacy?.unmount(name);
  }

  /**
   * Gives the disk of `from` (a warm pool container's), mounted as it is, to `to`, which
   * has none (see `exists`): one rename of its folder, mount point and all. The kernel
   * moves a folder that holds a mount point, and the running container's bind mounts do
   * not notice. False, and nothing changed, when `to` has a folder already: rename(2)
   * replaces no folder but an empty one, and a disk's folder is never empty.
   */
  async adopt(from: string, to: string): Promise<boolean> {
    try {
      await rename(this.folder(from), this.folder(to));
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') return false;
      throw error;
    }
  }

  /** Unmounts the disk and deletes it: the session's files are gone. */
  async remove(name: string): Promise<void> {
    await this.unmount(name);
    await rm(this.imagePath(name), { force: true });
    // rmdir first: a mount point still in use is refused (EBUSY), never emptied by a recursive delete.
    await rmdirIfPresent(this.mountPath(name));
    await rm(this.folder(name), { recursive: true, force: true });
    const partial = (await readdirOrEmpty(this.root)).filter((entry) => entry.startsWith(partialPrefix(name)));
    await Promise.all(partial.map((entry) => rm(join(this.root, entry), { recursive: true, force: true })));
    await this.#legacy?.remove(name);
  }

  /** The names of the disks here, whole or half-made, and of those still in the legacy root. */
  async names(): Promise<string[]> {
    const names = (await readdirOrEmpty(this.root)).map((entry) => (entry.startsWith(PARTIAL) ? entry.slice(PARTIAL.length, entry.lastIndexOf('~')) : entry));
    return [...new Set([...names, ...((await this.#legacy?.names()) ?? [])])];
  }

  /**
   * Makes sure the disk has its folder: a new one is made whole under a temporary name,
   * with a new image or, for a disk of the legacy layout, a second link to its image, and
   * then renamed into place. Two workers doing so at once leave one folder (the second
   * rename finds it, and its own is thrown away). True when this call moved a legacy disk.
   */
  async #putInPlace(name: string, sizeMb: number): Promise<boolean> {
    const found = await lstatOrUndefined(this.folder(name));
    if (found !== undefined) {
      if (!found.isDirectory()) throw new SandboxStartError('start_failed', `the session disk's folder ${this.folder(name)} is not a directory`);
      return false;
    }
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const temporary = await mkdtemp(join(this.root, partialPrefix(name)));
    try {
      const image = join(temporary, IMAGE_FILE);
      const moved = (await this.#legacy?.linkImage(name, image)) === true;
      if (!moved) await createImage(image, sizeMb);
      await mkdir(join(temporary, MOUNT_FOLDER), { mode: 0o700 });
      try {
        await rename(temporary, this.folder(name));
        return moved;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' || code === 'ENOTEMPTY') return false;
        throw error;
      }
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
  }
}

/** In a disk's folder: its image, and the folder it is mounted on. */
const IMAGE_FILE = 'disk.ext4';
const MOUNT_FOLDER = 'mnt';

/** A disk folder being made: `.new-<name>~<random>`. No disk name has a `~`, so it names its disk exactly. */
const PARTIAL = '.new-';

function partialPrefix(name: string): string {
  return `${PARTIAL}${name}~`;
}

/** A sparse image of `sizeMb` with an empty ext4 file system, made at `image` (a new file). */
async function createImage(image: string, sizeMb: number): Promise<void> {
  if (!Number.isInteger(sizeMb) || sizeMb < MIN_DISK_MB) {
    throw new SandboxStartError('start_failed', `a session disk must be at least ${MIN_DISK_MB} MiB, not ${sizeMb}`);
  }
  const handle = await open(image, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.truncate(sizeMb * 1024 * 1024);
  } finally {
    await handle.close();
  }
  // No reserved blocks (nothing in a sandbox runs as root); a small journal; inode
  // tables left unwritten (a fresh sparse file reads as zeros) so the image stays small.
  await diskCommand('mkfs.ext4', ['-q', '-F', '-m', '0', '-J', 'size=4', '-E', 'lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0', image]);
}

/**
 * A folder on the disk for the sandbox user. One that exists must be a plain directory,
 * never a link. One still root's is handed over too: a worker killed between its `mkdir`
 * and its `chown` leaves it so, and only root can have made it (its parent is root's,
 * mode 0755 or 0700), so it is no place the sandbox planted.
 */
async function sandboxFolder(path: string): Promise<string> {
  await withOwnFolder(path, 0o755, async (handle) => {
    if ((await handle.stat()).uid === 0) await handle.chown(SANDBOX_UID, SANDBOX_GID);
  });
  return path;
}

/**
 * A folder on the disk that only root may change, with exactly `mode` (mkdir's is masked by
 * the umask, and a folder left by an older release may differ).
 */
async function rootFolder(path: string, mode: number): Promise<void> {
  await withOwnFolder(path, mode, async (handle) => {
    await handle.chown(0, 0);
    await handle.chmod(mode);
  });
}

/**
 * Makes the folder if it is missing, then hands `use` a handle on it opened without
 * following a link: whatever is changed is the folder itself, never where a link points.
 * Anything there that is not a real directory is refused.
 */
async function withOwnFolder(path: string, mode: number, use: (handle: FileHandle) => Promise<void>): Promise<void> {
  try {
    await mkdir(path, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new SandboxStartError('start_failed', `${path} on the session disk is not a directory`);
    throw error;
  }
  try {
    await use(handle);
  } finally {
    await handle.close();
  }
}
