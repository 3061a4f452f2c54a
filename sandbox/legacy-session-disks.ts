import { link, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { unmountAt } from './disk-mounts.ts';
import { lstatOrUndefined, readdirOrEmpty, rmdirIfPresent } from './fs-if-present.ts';

/**
 * Session disks as releases before the disk folders laid them out, side by side in one
 * folder: the image `<name>.ext4`, its mount point `<name>` and the mount's lock
 * `<name>.lock`. `SessionDisks` moves such a disk into its own folder when it next mounts
 * it (a session running across the upgrade keeps its files and its container); until
 * then it is found here, and unmounted and removed from here, and after it only the
 * image's old name is left here (`retire`), removed with the session.
 */
export class LegacySessionDisks {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  async exists(name: string): Promise<boolean> {
    return (await lstatOrUndefined(this.#imagePath(name))) !== undefined;
  }

  /**
   * Links the disk's image to `target`: the same file (and so the same loop device, if it
   * is mounted) under a second name. False when it has none, or no longer: a worker moving
   * it at the same time got there first.
   */
  async linkImage(name: string, target: string): Promise<boolean> {
    try {
      await link(this.#imagePath(name), target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** Unmounts the disk from its old mount point; a container using it keeps its own mounts. */
  async unmount(name: string): Promise<void> {
    await unmountAt(join(this.root, name));
  }

  /**
   * What is left here once the disk has moved: its old mount point and lock go, its image
   * stays as a second name of the moved one. A worker of an older release on the same data
   * folder then still finds the disk, and mounts the same file system (by the image's inode,
   * `mount -o loop` finds the loop device already attached), rather than making a new one.
   */
  async retire(name: string): Promise<void> {
    await this.unmount(name);
    // rmdir, never a recursive delete: whatever is still mounted there is refused, not emptied.
    await rmdirIfPresent(join(this.root, name));
    await rm(join(this.root, `${name}.lock`), { force: true });
  }

  /** Unmounts the disk and deletes its names here: its files too, unless the image is linked elsewhere now. */
  async remove(name: string): Promise<void> {
    await this.retire(name);
    await rm(this.#imagePath(name), { force: true });
    // A release's half-made image: `<name>.ext4.<8 hex>.tmp`.
    const partial = (await readdirOrEmpty(this.root)).filter((entry) => entry.startsWith(`${name}.ext4.`) && /^[0-9a-f]{8}\.tmp$/.test(entry.slice(name.length + 6)));
    await Promise.all(partial.map((entry) => rm(join(this.root, entry), { force: true })));
  }

  /** The names of the disks here, whole or in part. */
  async names(): Promise<string[]> {
    const names = (await readdirOrEmpty(this.root)).map((entry) => entry.replace(/(?:\.ext4(?:\.[0-9a-f]{8}\.tmp)?|\.lock)$/, ''));
    return [...new Set(names)];
  }

  #imagePath(name: string): string {
    return join(this.root, `${name}.ext4`);
  }
}
