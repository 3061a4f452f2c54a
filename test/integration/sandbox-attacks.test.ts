/**
 * The sandbox as an attacker: an agent that runs whatever commands it likes must not
 * reach the host through the worker (links the worker follows, a socket it trusts,
 * processes that outlive their call).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DockerSandbox } from '../../sandbox/docker-sandbox.ts';
import type { SandboxSpec, ToolOutcome } from '../../sandbox/types.ts';
import { createSandboxFixture, type SandboxFixture, text, toolUseId } from './sandbox-fixture.ts';

let fixture: SandboxFixture;
let hostDir: string;

before(async () => {
  fixture = await createSandboxFixture();
  hostDir = await mkdtemp(join(tmpdir(), 'longhaul-attack-host-'));
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
  await rm(hostDir, { recursive: true, force: true });
});

function bash(sandbox: DockerSandbox, command: string, timeoutMs = 30_000): Promise<ToolOutcome> {
  return sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command, timeout_ms: timeoutMs } });
}

/** Processes in the container, as the host sees them (`docker top`), by command. */
function containerProcesses(containerId: string): string[] {
  const lines = execFileSync('docker', ['top', containerId, '-o', 'pid,comm']).toString().trim().split('\n').slice(1);
  return lines.map((line) => line.trim().split(/\s+/).slice(1).join(' '));
}

/** Polls until the container runs nothing but init and the executor; returns what was left at the deadline. */
async function onlyInitAndExecutorWithin(containerId: string, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  let left: string[] = [];
  do {
    left = containerProcesses(containerId);
    if (left.length <= 2) return left;
    await new Promise((resolve) => setTimeout(resolve, 200));
  } while (Date.now() < deadline);
  return left;
}

/** Secrets make the worker write CA files for the sandbox to trust: the files an attacker would aim links at. */
function egressSpec(sessionId: string): SandboxSpec {
  return fixture.spec(sessionId, {
    egress: { secrets: [{ name: 'API_TOKEN', value: 'sk-attack-test', hosts: ['api.example.com'], header: true, body: false }] },
  });
}

test('the agent cannot enter the executor folder, replace its socket or journal, or write the files it trusts', async () => {
  const sandbox = await fixture.driver.ensure(egressSpec(fixture.newSessionId('ctl')));
  const attempts = [
    'ls /run/longhaul',
    'ln -sf /etc/shadow /run/longhaul/ca-bundle.pem',
    'rm -f /run/longhaul/exec.sock',
    'mv /run/longhaul/state /tmp/state',
    'python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind(\'/run/longhaul/exec.sock\')"',
    'ln -sf /etc/shadow /etc/longhaul/ca-bundle.pem',
    'echo x > /etc/longhaul/ca-bundle.pem',
  ];
  for (const command of attempts) {
    const outcome = await bash(sandbox, command);
    assert.equal(outcome.is_error, true, `${command} should fail, got: ${text(outcome)}`);
    assert.match(text(outcome), /Permission denied|Read-only file system|Operation not permitted/, command);
  }
  // What the sandbox must read, it can.
  assert.match(text(await bash(sandbox, 'head -1 "$SSL_CERT_FILE"')), /BEGIN CERTIFICATE/);
  // The executor still answers on its own socket.
  assert.equal(await sandbox.isAlive(), true);
});

test('links planted in the session folder are never followed by a worker taking over', async () => {
  const sessionId = fixture.newSessionId('links');
  const first = await fixture.driver.ensure(egressSpec(sessionId));
  const canaryFile = join(hostDir, 'canary.txt');
  const canaryDir = join(hostDir, 'canary-dir');
  await writeFile(canaryFile, 'root only\n', { mode: 0o600 });
  await mkdir(canaryDir, { mode: 0o700 });
  const before = { file: await stat(canaryFile), dir: await stat(canaryDir) };

  // What an agent of the old layout could do to the folder it could write: links in
  // place of the CA files and the journal. A new worker adopts the session after its
  // executor died.
  const dir = fixture.driver.sessionDir(sessionId);
  await mkdir(join(dir, 'trust'), { recursive: true });
  for (const path of [join(dir, 'ca-bundle.pem'), join(dir, 'egress-ca.pem'), join(dir, 'trust', 'ca-bundle.pem'), join(dir, 'trust', 'egress-ca.pem')]) {
    await rm(path, { force: true });
    await symlink(canaryFile, path);
  }
  await rm(join(dir, 'state'), { recursive: true, force: true });
  await symlink(canaryDir, join(dir, 'state'));
  execFileSync('docker', ['kill', first.containerId]);

  const worker = fixture.newDriver();
  const second = await worker.ensure(egressSpec(sessionId));
  assert.notEqual(second.containerId, first.containerId);
  assert.equal(text(await bash(second, 'echo still works')), 'still works\n');

  assert.equal(await readFile(canaryFile, 'utf8'), 'root only\n');
  const afterward = { file: await stat(canaryFile), dir: await stat(canaryDir) };
  assert.equal(afterward.file.uid, before.file.uid);
  assert.equal(afterward.file.mode, before.file.mode);
  assert.equal(afterward.dir.uid, before.dir.uid, 'the canary folder was chowned through a link');
  assert.equal(afterward.dir.mode, before.dir.mode);
  await chmod(canaryDir, 0o700);
});

test('the agent can neither signal nor trace the executor', async () => {
  const sandbox = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('kill')));
  const outcome = await bash(
    sandbox,
    'for d in /proc/[0-9]*; do [ "$(cat $d/comm 2>/dev/null)" = longhaul-exec ] && kill -9 "${d#/proc/}"; done; cat /proc/1/environ',
  );
  assert.equal(outcome.is_error, true);
  assert.match(text(outcome), /Operation not permitted/);
  assert.match(text(outcome), /Permission denied/);
  assert.equal(await sandbox.isAlive(), true);
});

test('file tools act as the sandbox user: links into root-only places fail, new files belong to the agent', async () => {
  const sandbox = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('files')));
  await bash(sandbox, 'ln -s /run/longhaul/pwned /workspace/into-control; ln -s /run/longhaul/state /workspace/state-link; ln -s /proc/1/environ /workspace/init-env');
  const write = await sandbox.runTool({ toolUseId: toolUseId(), name: 'write', input: { file_path: '/workspace/into-control', content: 'x' } });
  assert.equal(write.is_error, true, text(write));
  const read = await sandbox.runTool({ toolUseId: toolUseId(), name: 'read', input: { file_path: '/workspace/init-env' } });
  assert.equal(read.is_error, true, text(read));
  const glob = await sandbox.runTool({ toolUseId: toolUseId(), name: 'glob', input: { pattern: '*', path: '/workspace/state-link' } });
  assert.doesNotMatch(text(glob), /toolu_/);
  const created = await sandbox.runTool({ toolUseId: toolUseId(), name: 'write', input: { file_path: '/workspace/mine/new.txt', content: 'hello' } });
  assert.equal(created.is_error, false, text(created));
  assert.equal(text(await bash(sandbox, 'stat -c %u:%g /workspace/mine /workspace/mine/new.txt')), '1000:1000\n1000:1000\n');
});

test('processes that left the shell die with a timed-out call', async () => {
  const sandbox = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('escape')));
  // A new session, and a double fork re-parented to init: out of the shell's tree.
  await bash(sandbox, 'setsid -f sleep 1000; (sleep 1001 &); echo started');
  assert.deepEqual(containerProcesses(sandbox.containerId).filter((c) => c === 'sleep').length, 2);
  const stuck = await bash(sandbox, 'sleep 60', 1_000);
  assert.match(text(stuck), /timed out after 1000 ms/);
  const left = await onlyInitAndExecutorWithin(sandbox.containerId, 10_000);
  assert.deepEqual(left.length, 2, `still running: ${left.join(', ')}`);
  assert.equal(text(await bash(sandbox, 'echo ok')), 'ok\n');
});

test('a fork bomb, in the background or in the foreground, is killed whole and the sandbox goes on', async () => {
  const sandbox = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('bomb'), { pidsLimit: 128, cpus: 0.5 }));
  // The classic bomb returns at once and lives on in the background.
  await bash(sandbox, ':(){ :|:& };:; echo launched');
  const left = await onlyInitAndExecutorWithin(sandbox.containerId, 15_000);
  assert.deepEqual(left.length, 2, `still running: ${left.slice(0, 10).join(', ')} (${left.length} in all)`);
  assert.equal(text(await bash(sandbox, 'echo ok')), 'ok\n');

  // One that keeps its call busy ends the call with a clear error.
  const foreground = await bash(sandbox, 'b() { b | b; }; b', 20_000);
  assert.equal(foreground.is_error, true);
  assert.match(text(foreground), /limit of 128 processes|timed out/);
  const leftAgain = await onlyInitAndExecutorWithin(sandbox.containerId, 15_000);
  assert.deepEqual(leftAgain.length, 2, `still running: ${leftAgain.slice(0, 10).join(', ')} (${leftAgain.length} in all)`);
  assert.equal(text(await bash(sandbox, 'echo ok')), 'ok\n');
});

test('a session cannot fill the host disk: its quota holds for /workspace and /mnt/session together, a full disk is a clear tool error, and deleting frees it', async () => {
  const sessionId = fixture.newSessionId('disk');
  const sandbox = await fixture.driver.ensure(fixture.spec(sessionId, { diskMb: 64 }));
  const image = fixture.driver.diskImagePath(sessionId);

  const filled = await bash(sandbox, 'dd if=/dev/zero of=/workspace/big bs=1M count=200; dd if=/dev/zero of=/mnt/session/more bs=1M count=8');
  assert.equal(filled.is_error, true, text(filled));
  assert.match(text(filled), /No space left on device/);
  assert.match(text(filled), /the session's disk is full: \d+ bytes free of [4-6]\d MiB, shared by \/workspace and \/mnt\/session/);
  assert.ok(filled.disk_full !== undefined && filled.disk_full.size_bytes <= 64 * 1024 * 1024, JSON.stringify(filled.disk_full));
  // What the host spent is the quota, not the 208 MiB asked for.
  const allocated = (await stat(image)).blocks * 512;
  assert.ok(allocated <= 66 * 1024 * 1024, `image holds ${allocated} bytes`);

  const write = await sandbox.runTool({ toolUseId: toolUseId(), name: 'write', input: { file_path: '/workspace/note.txt', content: 'x'.repeat(2 * 1024 * 1024) } });
  assert.equal(write.is_error, true, text(write));
  assert.match(text(write), /session's disk is full/);

  const freed = await bash(sandbox, 'rm /workspace/big /mnt/session/more && echo hello > /workspace/after.txt && cat /workspace/after.txt');
  assert.deepEqual([freed.is_error, text(freed).trim(), freed.disk_full], [false, 'hello', undefined]);

  assert.equal(mountedAt(join(fixture.dataDir, '.session-disks', sessionId, 'mnt')), true, 'mounted while its container runs');
  // The disk outlives its container (a replaced container keeps the files) ...
  await fixture.driver.destroy(sessionId, { removeVolume: false });
  assert.equal(mountedAt(join(fixture.dataDir, '.session-disks', sessionId, 'mnt')), false, 'unmounted with its container');
  const again = await fixture.driver.ensure(fixture.spec(sessionId, { diskMb: 64 }));
  assert.equal(text(await bash(again, 'cat /workspace/after.txt')).trim(), 'hello');
  // ... and deleting the session deletes it.
  await fixture.driver.destroy(sessionId, { removeVolume: true });
  await assert.rejects(stat(image), { code: 'ENOENT' });
  assert.equal(mountedAt(join(fixture.dataDir, '.session-disks', sessionId, 'mnt')), false);
});

function mountedAt(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === path);
}
