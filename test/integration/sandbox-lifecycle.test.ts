import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { access, chown, lstat, rename, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { getContainerRuntimeClient } from 'testcontainers';
import { volumeName } from '../../sandbox/sandbox-resources.ts';
import { isMountPoint } from '../../sandbox/disk-mounts.ts';
import { SessionDisks } from '../../sandbox/session-disk.ts';
import { SandboxLostError, SandboxStartError } from '../../sandbox/types.ts';
import { contextOutlives } from '../support/unreachable.ts';
import { createSandboxFixture, exec, SANDBOX_IMAGE, type SandboxFixture, text, toolUseId } from './sandbox-fixture.ts';

let fixture: SandboxFixture;

before(async () => {
  fixture = await createSandboxFixture();
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
});

async function sessionContainers(sessionId: string): Promise<string[]> {
  const { stdout } = await exec('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=longhaul.session=${sessionId}`]);
  return stdout.split('\n').filter(Boolean);
}

async function volumeExists(name: string): Promise<boolean> {
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  try {
    await docker.getVolume(name).inspect();
    return true;
  } catch {
    return false;
  }
}

test('a killed container makes runTool throw SandboxLostError; ensure replaces it and keeps /workspace', async () => {
  const sessionId = fixture.newSessionId('kill');
  const first = await fixture.driver.ensure(fixture.spec(sessionId));
  await first.runTool({ toolUseId: toolUseId(), name: 'write', input: { file_path: 'keep/me.txt', content: 'kept' } });

  // Settled into a value at once, so the rejection is handled before the test looks at it.
  const inFlight = first
    .runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'sleep 30' } })
    .then(() => new Error('runTool should have thrown'), (e: unknown) => e);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await exec('docker', ['kill', first.containerId]);
  const error = await inFlight;
  assert.ok(error instanceof SandboxLostError, String(error));
  assert.match(error.message, new RegExp(sessionId));
  // A call on the dead sandbox (no call in flight when it died) is lost as well.
  await assert.rejects(
    first.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'true' } }),
    SandboxLostError,
  );

  const second = await fixture.driver.ensure(fixture.spec(sessionId));
  assert.notEqual(second.containerId, first.containerId);
  const read = await second.runTool({ toolUseId: toolUseId(), name: 'read', input: { file_path: 'keep/me.txt' } });
  assert.equal(text(read), '     1\tkept');
  assert.deepEqual(await sessionContainers(sessionId), [second.containerId]);
});

test('a sandbox does not keep the async context of the call that started it', async () => {
  // Its servers, sockets and timers live as long as the session; the activity that asked for it must not.
  const sessionId = fixture.newSessionId('context');
  const spec = fixture.spec(sessionId, { networking: { type: 'limited', allowed_hosts: ['api.example.com'] } });
  assert.equal(
    await contextOutlives(async () => {
      const sandbox = await fixture.driver.ensure(spec);
      await sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'true' } });
    }),
    false,
  );
  const sandbox = await fixture.driver.ensure(spec);
  assert.equal(text(await sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'echo alive' } })).trim(), 'alive');
});

test('a container that stopped while idle is replaced by ensure', async () => {
  const sessionId = fixture.newSessionId('stop');
  const first = await fixture.driver.ensure(fixture.spec(sessionId));
  await first.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'echo x > file' } });
  await exec('docker', ['stop', '-t', '1', first.containerId]);
  const second = await fixture.newDriver().ensure(fixture.spec(sessionId));
  assert.notEqual(second.containerId, first.containerId);
  const cat = await second.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'cat file' } });
  assert.equal(text(cat), 'x\n');
});

test('cancelTool kills a running command and its process is gone', async () => {
  const sessionId = fixture.newSessionId('cancel');
  const sandbox = await fixture.driver.ensure(fixture.spec(sessionId));
  const id = toolUseId();
  const running = sandbox.runTool({ toolUseId: id, name: 'bash', input: { command: 'sleep 60; echo finished' } });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = Date.now();
  await sandbox.cancelTool(id);
  const outcome = await running;
  assert.ok(Date.now() - started < 5_000);
  assert.equal(outcome.is_error, true);
  assert.match(text(outcome), /interrupted/);
  const ps = await sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'ps -eo args' } });
  assert.doesNotMatch(text(ps), /sleep 60/);
  // Cancelling what is not running is a no-op.
  await sandbox.cancelTool(id);
  await sandbox.cancelTool('toolu_never_seen');
});

test('an aborted signal cancels the call', async () => {
  const sessionId = fixture.newSessionId('abort');
  const sandbox = await fixture.driver.ensure(fixture.spec(sessionId));
  const controller = new AbortController();
  const running = sandbox.runTool({
    toolUseId: toolUseId(),
    name: 'bash',
    input: { command: 'sleep 60' },
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(), 200);
  const outcome = await running;
  assert.equal(outcome.is_error, true);
  assert.match(text(outcome), /interrupted/);
});

test('two workers ensuring the same new session end up on one container', async () => {
  const sessionId = fixture.newSessionId('race');
  const [a, b] = await Promise.all([
    fixture.newDriver().ensure(fixture.spec(sessionId)),
    fixture.newDriver().ensure(fixture.spec(sessionId)),
  ]);
  assert.equal(a.containerId, b.containerId);
  assert.deepEqual(await sessionContainers(sessionId), [a.containerId]);
});

test('destroy keeps the disk unless asked; removeVolume removes the disk and the host folder', async () => {
  const sessionId = fixture.newSessionId('destroy');
  const first = await fixture.driver.ensure(fixture.spec(sessionId));
  await first.runTool({ toolUseId: toolUseId(), name: 'write', input: { file_path: 'f.txt', content: 'still here' } });
  await fixture.driver.destroy(sessionId);
  assert.deepEqual(await sessionContainers(sessionId), []);
  await access(fixture.driver.diskImagePath(sessionId));
  assert.equal(await volumeExists(volumeName(sessionId)), false, 'a new session has a disk, not a volume');

  const second = await fixture.driver.ensure(fixture.spec(sessionId));
  const cat = await second.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'cat f.txt' } });
  assert.equal(text(cat), 'still here');

  await fixture.driver.destroy(sessionId, { removeVolume: true });
  assert.deepEqual(await sessionContainers(sessionId), []);
  await assert.rejects(access(fixture.driver.diskImagePath(sessionId)));
  await assert.rejects(access(fixture.driver.sessionDir(sessionId)));
});

test('a session started before disks keeps its named volumes (and its files) until it is deleted', async () => {
  const sessionId = fixture.newSessionId('legacy');
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  await docker.createVolume({ Name: volumeName(sessionId), Labels: { longhaul: '1', 'longhaul.session': sessionId, 'longhaul.role': 'workspace' } });
  await exec('docker', ['run', '--rm', '--user', '0', '-v', `${volumeName(sessionId)}:/w`, '--entrypoint', 'sh', SANDBOX_IMAGE, '-c', 'echo from-before > /w/old.txt && chown 1000:1000 /w /w/old.txt']);

  const sandbox = await fixture.driver.ensure(fixture.spec(sessionId));
  assert.equal(text(await sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'cat /workspace/old.txt' } })).trim(), 'from-before');
  await assert.rejects(access(fixture.driver.diskImagePath(sessionId)), 'no disk is made beside the volume');

  await fixture.driver.destroy(sessionId, { removeVolume: true });
  assert.equal(await volumeExists(volumeName(sessionId)), false);
});

test('a missing image is a SandboxStartError with code image_missing', async () => {
  const driver = fixture.newDriver({ image: 'longhaul-no-such-image:never' });
  const sessionId = fixture.newSessionId('noimage');
  const error = await driver.ensure(fixture.spec(sessionId)).then(
    () => assert.fail('ensure should have failed'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SandboxStartError, String(error));
  assert.equal(error.code, 'image_missing');
});

test('session ids that cannot name Docker resources are refused', async () => {
  await assert.rejects(fixture.driver.ensure(fixture.spec('../escape')), TypeError);
  await assert.rejects(fixture.driver.ensure(fixture.spec('has space')), TypeError);
});

test('workers making and mounting the same new session disk at once all get the one disk', async () => {
  const root = join(fixture.dataDir, '.race-disks');
  for (let round = 0; round < 5; round++) {
    const sessionId = `race-disk-${round}`;
    const disks = [new SessionDisks(root), new SessionDisks(root), new SessionDisks(root)];
    const mounted = await Promise.all(disks.map((d) => d.mount(sessionId, 64)));
    assert.equal(new Set(mounted.map((m) => m.workspace)).size, 1);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.split(' ')[4] === realpathSync(disks[0]!.mountPath(sessionId)));
    assert.equal(mounts.length, 1, 'mounted once');
    await disks[0]!.remove(sessionId);
  }
});

test('isMountPoint sees a mounted disk, through a symlink too, and nothing once it is unmounted or for a plain folder', async () => {
  const root = join(fixture.dataDir, '.mountpoint-disks');
  const disks = new SessionDisks(root);
  const sessionId = 'mountpoint-check';
  const target = disks.mountPath(sessionId);
  await disks.mount(sessionId, 64);
  assert.equal(await isMountPoint(target), true);
  const link = join(fixture.dataDir, 'mountpoint-link');
  await symlink(target, link);
  assert.equal(await isMountPoint(link), true);
  assert.equal(await isMountPoint(join(target, 'workspace')), false, 'a folder on the disk is not its mount point');
  await disks.unmount(sessionId);
  assert.equal(await isMountPoint(target), false);
  assert.equal(await isMountPoint(root), false);
  assert.equal(await isMountPoint(join(root, 'missing')), false);
  await disks.remove(sessionId);
  await rm(link);
});

test("a worker killed between making /workspace and handing it over leaves it root's: the next mount hands it over, and the agent can write", async () => {
  const sessionId = fixture.newSessionId('halfmade');
  const disks = new SessionDisks(join(fixture.driver.dataDir, '.session-disks'));
  // What the killed worker left: the disk mounted, `workspace` made, still root's.
  const { workspace } = await disks.mount(sessionId, 64);
  await chown(workspace, 0, 0);
  assert.equal((await stat(workspace)).uid, 0);

  const sandbox = await fixture.driver.ensure(fixture.spec(sessionId));
  const wrote = await sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: 'echo mine > /workspace/mine.txt && stat -c %u /workspace' } });
  assert.deepEqual([wrote.is_error, text(wrote).trim()], [false, '1000']);

  // A link where the folder should be is still refused, never followed.
  await fixture.driver.destroy(sessionId);
  await disks.mount(sessionId, 64);
  await rename(workspace, `${workspace}.moved`);
  await symlink('/etc', workspace);
  await assert.rejects(fixture.driver.ensure(fixture.spec(sessionId)), /not a directory/);
  assert.equal((await lstat('/etc')).uid, 0, '/etc untouched');
  await fixture.driver.destroy(sessionId, { removeVolume: true });
});
