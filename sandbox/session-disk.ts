import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, link, lstat, mkdir, open, realpath, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HostCommandError, HostCommands } from './host-commands.ts';
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
 * Nothing here trusts the sandbox: the file system's root is root's (mode 0755), so the
 * agent can write inside `workspace/` and `session/` but can never replace them with
 * links; the image and its mount point live in a folder only root can enter.
 *
 * The mount lives while the session's container does: `unmount` after the container is
 * removed (the image stays, the next container mounts it again), `remove` when the
 * session is deleted. `mount -o loop` reuses a loop device already attached to the
 * image, so a second mount (a new worker, a lost mount point) never attaches the same
 * file system twice.
 */
/** How a session disk is mounted: no setuid or device files from the sandbox's side, no atime writes. */
const MOUNT_OPTIONS = 'loop,nosuid,nodev,noatime,noinit_itable';

export class SessionDisks {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  imagePath(sessionId: string): string {
    return join(this.root, `${sessionId}.ext4`);
  }

  mountPath(sessionId: string): string {
    return join(this.root, sessionId);
  }

  async exists(sessionId: string): Promise<boolean> {
    return (await lstatOrUndefined(this.imagePath(sessionId))) !== undefined;
  }

  /** Creates the session's disk of `sizeMb` if it has none (an existing one keeps its size) and mounts it. */
  async mount(sessionId: string, sizeMb: number): Promise<MountedDisk> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const image = this.imagePath(sessionId);
    if (!(await this.exists(sessionId))) await createImage(image, sizeMb);
    const target = this.mountPath(sessionId);
    if (!(await isMountPoint(target))) await mountImage(image, target);
    // Root's: the sandbox reads the skills through a read-only mount and never sees the staging folder.
    const skills = this.skillFolders(sessionId);
    await rootFolder(skills.root, 0o755);
    await rootFolder(skills.staging, 0o700);
    return {
      workspace: await sandboxFolder(join(target, 'workspace')),
      sessionFiles: await sandboxFolder(join(target, 'session')),
      skills,
    };
  }

  /**
   * Mounts the disk `adopt` gave the session, and nothing else: its folders were made when
   * the warm container it came with started, and nothing but that container's executor has
   * run since. One host command, where `mount` waits on two dozen file operations: a claim
   * is on the way to a new session's first tool call, and in a burst each of those waits
   * for a turn of a busy event loop (50 claims at once: 1.6 s p50 in `mount` alone).
   */
  async mountAdopted(sessionId: string): Promise<void> {
    await mountImage(this.imagePath(sessionId), this.mountPath(sessionId));
  }

  /** Where the session's skills are on its disk (`mount` makes the folders). */
  skillFolders(sessionId: string): SkillFolders {
    const target = this.mountPath(sessionId);
    return { root: join(target, 'skills'), staging: join(target, 'skills-staging') };
  }

  /**
   * The disk's `memory/` folder (root's, mode 0700: the sandbox reaches it only through
   * its mounts) with a folder per store: the sandbox user's for a read-write store, root's
   * for a read-only one. Idempotent; anything there that is not a real directory is refused.
   */
  async memoryFolders(disk: MountedDisk, sessionId: string, mounts: readonly { slug: string; readOnly: boolean }[]): Promise<MountedDisk> {
    const root = join(this.mountPath(sessionId), 'memory');
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
  async unmount(sessionId: string): Promise<void> {
    const target = this.mountPath(sessionId);
    if (!(await isMountPoint(target))) return;
    try {
      await command('umount', [target]);
    } catch {
      // A teardown racing this one (a released sandbox and its session's cleanup) got there first.
      if (!(await isMountPoint(target))) return;
      // Busy: a `docker cp` or a dying container still holds it. Detach now; the kernel
      // frees the loop device when the last user lets go.
      await command('umount', ['--lazy', target]);
    }
  }

  /**
   * Gives the image of `from` (a warm pool container's disk) to `to`, which has none: it
   * is linked under `to`'s name, the way `createImage` puts one in place, so false (and
   * nothing changed) when `to` has an image already. `mount(to)` then mounts it again
   * (`mount -o loop` finds the image's loop device by its inode, so the running container
   * and that mount share one file system); `remove(from)` drops `from`'s mount.
   */
  async adopt(from: string, to: string): Promise<boolean> {
    try {
      await link(this.imagePath(from), this.imagePath(to));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    await unlink(this.imagePath(from));
    return true;
  }

  /** Unmounts the disk and deletes its image: the session's files are gone. */
  async remove(sessionId: string): Promise<void> {
    await this.unmount(sessionId);
    await rm(this.imagePath(sessionId), { force: true });
    await rm(this.mountPath(sessionId), { recursive: true, force: true });
    await rm(`${this.mountPath(sessionId)}.lock`, { force: true });
  }
}

/**
 * A sparse image with an empty ext4 file system, made under a temporary name and linked
 * into place, so two workers creating it at once leave one complete image.
 */
async function createImage(image: string, sizeMb: number): Promise<void> {
  if (!Number.isInteger(sizeMb) || sizeMb < MIN_DISK_MB) {
    throw new SandboxStartError('start_failed', `a session disk must be at least ${MIN_DISK_MB} MiB, not ${sizeMb}`);
  }
  const temporary = `${image}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.truncate(sizeMb * 1024 * 1024);
  } finally {
    await handle.close();
  }
  try {
    // No reserved blocks (nothing in a sandbox runs as root); a small journal; inode
    // tables left unwritten (a fresh sparse file reads as zeros) so the image stays small.
    await command('mkfs.ext4', ['-q', '-F', '-m', '0', '-J', 'size=4', '-E', 'lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0', temporary]);
    await link(temporary, image).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
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

/**
 * Whether a file system is mounted on `path` in this process's mount namespace. A session
 * disk is a file system of its own (ext4 on a loop device), so its mount point's device
 * differs from its parent folder's: two stats, where reading `/proc/self/mountinfo` made
 * the kernel write out every mount on the host, a few for each running container (every
 * claim and refill of a burst read it).
 */
export async function isMountPoint(path: string): Promise<boolean> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return false;
  }
  try {
    const [self, parent] = await Promise.all([stat(real), stat(dirname(real))]);
    return self.dev !== parent.dev;
  } catch {
    // Found but unreadable: a broken mount is still a mount, to be unmounted rather than mounted over.
    return true;
  }
}

/**
 * Mounts `image` on `target` (made if missing) unless something is mounted there. Check and
 * mount run under one lock every process shares: two mounts racing past the check would put
 * the image on two loop devices at once, which corrupts it.
 */
async function mountImage(image: string, target: string): Promise<void> {
  await command('flock', ['--exclusive', '--timeout', '60', `${target}.lock`, 'sh', '-c', `mkdir -p -m 700 "$1" && { mountpoint -q "$1" || mount -t ext4 -o ${MOUNT_OPTIONS} "$2" "$1"; }`, 'mount-disk', target, image]);
}

/** One shell runs every disk command of this process: forking the worker itself for each is slow. */
const hostCommands = new HostCommands({ timeoutSeconds: 60 });

async function command(file: string, args: string[]): Promise<void> {
  try {
    await hostCommands.run(file, args);
  } catch (error) {
    const { status, stderr } = error instanceof HostCommandError ? error : { status: undefined, stderr: '' };
    const reason =
      status === 127 ? `${file} is not installed (it comes with e2fsprogs / util-linux)` : status === 124 ? 'it did not finish within 60 s' : stderr || String(error);
    throw new SandboxStartError('start_failed', `could not prepare the session disk: ${file} ${args.join(' ')}: ${reason}`, { cause: error });
  }
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
