/**
 * Services that setup starts (dockerd) must outlive whatever ran setup: a signal to the
 * caller's process group — a CI step's timeout, a supervisor stopping `longhaul dev` —
 * must not stop the Docker engine and with it every sandbox. Tested with a stand-in
 * service, never the real daemon.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sessionOf(pid: number): number {
  return Number(execFileSync('ps', ['-o', 'sid=', '-p', String(pid)]).toString().trim());
}

test('start_detached puts a service in a session of its own: killing the caller group leaves it running', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'longhaul-detached-'));
  const pidFile = join(dir, 'pid');
  // The caller: a process group of its own (like a CI step), which starts the service and waits.
  const caller = spawn(
    'bash',
    ['-c', `source scripts/lib.sh; start_detached "${dir}/service.log" sleep 300 > "${pidFile}"; sleep 300`],
    { cwd: root, detached: true, stdio: 'ignore' },
  );
  let service = 0;
  try {
    for (let i = 0; i < 100 && service === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      service = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()) || 0;
    }
    assert.ok(service > 0, 'the service pid was not reported');
    assert.notEqual(sessionOf(service), sessionOf(caller.pid!));
    const exited = new Promise((resolve) => caller.once('exit', resolve));
    process.kill(-caller.pid!, 'SIGTERM');
    await exited;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(alive(service), true, 'the service died with its caller');
  } finally {
    if (service > 0 && alive(service)) process.kill(service, 'SIGKILL');
    if (caller.exitCode === null && caller.signalCode === null) process.kill(-caller.pid!, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('setup starts dockerd through start_detached', async () => {
  const setup = await readFile(join(root, 'scripts', 'setup.sh'), 'utf8');
  assert.match(setup, /start_detached "\$LONGHAUL_CACHE\/dockerd\.log" dockerd/);
  assert.doesNotMatch(setup, /nohup dockerd/);
});
