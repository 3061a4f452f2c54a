import { realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HostCommandError, HostCommands } from './host-commands.ts';
import { SandboxStartError } from './types.ts';

/** How a session disk is mounted: no setuid or device files from the sandbox's side, no atime writes. */
const MOUNT_OPTIONS = 'loop,nosuid,nodev,noatime,noinit_itable';

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
 * mount run under one lock on `lock` (a file or folder) that every process shares: two mounts
 * racing past the check would put the image on two loop devices at once, which corrupts it.
 * `mount -o loop` reuses a loop device already attached to the image (found by its inode,
 * whatever name it has now), so a second mount point shares the one file system.
 */
export async function mountImage(image: string, target: string, lock: string): Promise<void> {
  await diskCommand('flock', ['--exclusive', '--timeout', '60', lock, 'sh', '-c', `mkdir -p -m 700 "$1" && { mountpoint -q "$1" || mount -t ext4 -o ${MOUNT_OPTIONS} "$2" "$1"; }`, 'mount-disk', target, image]);
}

/** Unmounts whatever is mounted on `target`; no-op when nothing is. */
export async function unmountAt(target: string): Promise<void> {
  if (!(await isMountPoint(target))) return;
  try {
    await diskCommand('umount', [target]);
  } catch {
    // A teardown racing this one (a released sandbox and its session's cleanup) got there first.
    if (!(await isMountPoint(target))) return;
    // Busy: a `docker cp` or a dying container still holds it. Detach now; the kernel
    // frees the loop device when the last user lets go.
    await diskCommand('umount', ['--lazy', target]);
  }
}

/** One shell runs every disk command of this process: forking the worker itself for each is slow. */
const hostCommands = new HostCommands({ timeoutSeconds: 60 });

/** Runs a disk tool (mkfs, mount, umount); a failure is a `SandboxStartError` that says which and why. */
export async function diskCommand(file: string, args: string[]): Promise<void> {
  try {
    await hostCommands.run(file, args);
  } catch (error) {
    const { status, stderr } = error instanceof HostCommandError ? error : { status: undefined, stderr: '' };
    const reason =
      status === 127 ? `${file} is not installed (it comes with e2fsprogs / util-linux)` : status === 124 ? 'it did not finish within 60 s' : stderr || String(error);
    throw new SandboxStartError('start_failed', `could not prepare the session disk: ${file} ${args.join(' ')}: ${reason}`, { cause: error });
  }
}
