/**
 * Session disks in their folders, on this host's real loop devices: a disk's folder holds
 * its image and its mount point, so a warm disk becomes a session's by renaming one folder
 * (mounted as it is); and a disk of the layout before disk folders (image, mount point and
 * lock side by side) moves into its folder when next mounted, files and all, while a
 * container's mount of it (here, a bind mount standing in for one) keeps working and an
 * older worker that still looks for the old name finds the same file system.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isMountPoint } from '../../sandbox/disk-mounts.ts';
import { SessionDisks } from '../../sandbox/session-disk.ts';
import { createSandboxFixture, exec, type SandboxFixture, text, toolUseId } from './sandbox-fixture.ts';

let fixture: SandboxFixture;

before(async () => {
  fixture = await createSandboxFixture();
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
});

/** The host's mounts: mount point and device (major:minor), as this process sees them. */
function mounts(): { point: string; device: string }[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      return { point: fields[4]!, device: fields[2]! };
    });
}

async function mountedOn(path: string): Promise<{ point: string; device: string }[]> {
  const real = await realpath(path);
  return mounts().filter((m) => m.point === real);
}

/** A disk as releases before disk folders left it: `<name>.ext4` mounted on `<name>`, with a file in `workspace/`. */
async function legacyDisk(legacyRoot: string, name: string, content: string): Promise<void> {
  await mkdir(legacyRoot, { recursive: true, mode: 0o700 });
  const image = join(legacyRoot, `${name}.ext4`);
  await writeFile(image, '');
  await truncate(image, 64 * 1024 * 1024);
  await exec('mkfs.ext4', ['-q', '-F', '-m', '0', '-J', 'size=4', '-E', 'root_owner=0:0', image]);
  const target = join(legacyRoot, name);
  await mkdir(target, { mode: 0o700 });
  await exec('mount', ['-t', 'ext4', '-o', 'loop,nosuid,nodev,noatime', image, target]);
  await writeFile(`${target}.lock`, '');
  await mkdir(join(target, 'workspace'));
  await writeFile(join(target, 'workspace', 'old.txt'), content);
}

test('a warm disk becomes the session’s by one rename, mounted as it is; a name that has a disk is refused', async () => {
  const disks = new SessionDisks(join(fixture.dataDir, '.adopt-disks'));
  const slot = await disks.mount('.warm-a', 64);
  await writeFile(join(slot.workspace, 'f.txt'), 'from the slot');
  const [before] = await mountedOn(disks.mountPath('.warm-a'));
  assert.ok(before !== undefined, 'the slot’s disk is mounted');

  assert.equal(await disks.adopt('.warm-a', 'sess-a'), true);
  assert.deepEqual((await mountedOn(disks.mountPath('sess-a'))).map((m) => m.device), [before.device], 'the same mount, now under the session’s name');
  assert.equal(mounts().filter((m) => m.device === before.device).length, 1, 'and no other mount of the disk');
  assert.equal(await disks.exists('.warm-a'), false);
  assert.equal(await readFile(join(disks.mountPath('sess-a'), 'workspace', 'f.txt'), 'utf8'), 'from the slot');
  // Mounting it again (what a cold start does) finds it mounted and keeps it.
  const again = await disks.mount('sess-a', 64);
  assert.equal(await readFile(join(again.workspace, 'f.txt'), 'utf8'), 'from the slot');
  assert.equal((await mountedOn(disks.mountPath('sess-a'))).length, 1);

  await disks.mount('.warm-b', 64);
  assert.equal(await disks.adopt('.warm-b', 'sess-a'), false, 'the session has a disk');
  assert.equal(await isMountPoint(disks.mountPath('.warm-b')), true, 'the refused disk is untouched');

  await disks.remove('sess-a');
  await disks.remove('.warm-b');
  assert.deepEqual(await readdir(disks.root), []);
  assert.equal(mounts().filter((m) => m.device === before.device).length, 0);
});

test('a half-made disk folder is listed under its disk’s name and removed with it', async () => {
  const disks = new SessionDisks(join(fixture.dataDir, '.partial-disks'));
  await mkdir(join(disks.root, '.new-.warm-0123456789ab-7~x1y2z3', 'mnt'), { recursive: true });
  await writeFile(join(disks.root, '.new-.warm-0123456789ab-7~x1y2z3', 'disk.ext4'), '');
  await mkdir(join(disks.root, '.new-.warm-0123456789ab-70~x1y2z3'), { recursive: true });
  assert.deepEqual((await disks.names()).sort(), ['.warm-0123456789ab-7', '.warm-0123456789ab-70']);
  await disks.remove('.warm-0123456789ab-7');
  assert.deepEqual(await readdir(disks.root), ['.new-.warm-0123456789ab-70~x1y2z3'], 'only its own');
});

test('a disk of the layout before disk folders moves into its folder when mounted; a mount a container holds stays the same file system', async () => {
  const legacyRoot = join(fixture.dataDir, '.legacy-disks');
  const disks = new SessionDisks(join(fixture.dataDir, '.moved-disks'), { legacyRoot });
  await legacyDisk(legacyRoot, 'sess-old', 'from before');
  // What a running container holds: a bind mount of the old mount's workspace.
  const held = join(fixture.dataDir, 'held-workspace');
  await mkdir(held);
  await exec('mount', ['--bind', join(legacyRoot, 'sess-old', 'workspace'), held]);
  try {
    assert.equal(await disks.exists('sess-old'), true, 'found in the old layout');
    assert.deepEqual(await disks.names(), ['sess-old']);

    const disk = await disks.mount('sess-old', 64);
    assert.equal(await readFile(join(disk.workspace, 'old.txt'), 'utf8'), 'from before');
    assert.deepEqual(await readdir(legacyRoot), ['sess-old.ext4'], 'its old mount point and lock are gone');
    assert.equal((await stat(disks.imagePath('sess-old'))).ino, (await stat(join(legacyRoot, 'sess-old.ext4'))).ino, 'the old name is a second link to the one image');
    const [now] = await mountedOn(disks.mountPath('sess-old'));
    const [container] = await mountedOn(held);
    assert.equal(now?.device, container?.device, 'one file system: the new mount took the loop device the old one had');
    await writeFile(join(held, 'by-the-container.txt'), 'still writing');
    assert.equal(await readFile(join(disk.workspace, 'by-the-container.txt'), 'utf8'), 'still writing');
  } finally {
    await exec('umount', [held]);
  }
  await disks.remove('sess-old');
  assert.deepEqual([await readdir(disks.root), await readdir(legacyRoot)], [[], []]);
});

test('unmount and remove find a disk still in the old layout', async () => {
  const legacyRoot = join(fixture.dataDir, '.legacy-disks-2');
  const disks = new SessionDisks(join(fixture.dataDir, '.moved-disks-2'), { legacyRoot });
  await legacyDisk(legacyRoot, 'sess-old', 'x');
  await disks.unmount('sess-old');
  assert.equal(await isMountPoint(join(legacyRoot, 'sess-old')), false);
  assert.equal(await disks.exists('sess-old'), true, 'unmounted, not removed');
  await disks.remove('sess-old');
  assert.equal(await disks.exists('sess-old'), false);
  assert.deepEqual(await readdir(legacyRoot), []);
});

test('a session whose disk a release before disk folders made starts on it, and it is in its folder after', async () => {
  const sessionId = fixture.newSessionId('upgraded');
  await legacyDisk(join(fixture.dataDir, '.disks'), sessionId, 'made before the upgrade\n');
  // The old release unmounted it with its container.
  await exec('umount', [join(fixture.dataDir, '.disks', sessionId)]);

  const sandbox = await fixture.driver.ensure(fixture.spec(sessionId));
  const cat = await sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'cat /workspace/old.txt && echo more > /workspace/new.txt && stat -c %u /workspace' } });
  assert.deepEqual([cat.is_error, text(cat)], [false, 'made before the upgrade\n1000\n']);
  assert.equal((await stat(fixture.driver.diskImagePath(sessionId))).isFile(), true);
  assert.deepEqual((await readdir(join(fixture.dataDir, '.disks'))).filter((name) => name.startsWith(sessionId)), [`${sessionId}.ext4`], 'the old name is left as a link');
  // An older worker on the same folder mounts the old name: the same file system, not a new disk.
  const older = join(fixture.dataDir, '.disks', sessionId);
  await mkdir(older);
  await exec('mount', ['-t', 'ext4', '-o', 'loop,nosuid,nodev,noatime', `${older}.ext4`, older]);
  assert.equal(await readFile(join(older, 'workspace', 'new.txt'), 'utf8'), 'more\n');
  await exec('umount', [older]);

  await fixture.driver.destroy(sessionId, { removeVolume: true });
  await assert.rejects(stat(fixture.driver.diskImagePath(sessionId)), { code: 'ENOENT' });
  assert.deepEqual((await readdir(join(fixture.dataDir, '.disks'))).filter((name) => name.startsWith(sessionId)), [], 'deleting the session removes both names');
});
