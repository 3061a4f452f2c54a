import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';

/** Id of the session's running sandbox container (fails when there is none). */
export async function findSessionContainerId(sessionId: string): Promise<string> {
  const out = execFileSync('docker', ['ps', '-q', '--filter', `label=longhaul.session=${sessionId}`]).toString().trim();
  if (!out) throw new Error(`no running sandbox container for ${sessionId}`);
  return out.split('\n')[0]!;
}

/**
 * Waits until a process whose command line matches `pattern` runs in the session's sandbox
 * container (a tool call is under way there, not still starting its container), and returns
 * the container's id; fails after `timeoutMs`.
 */
export async function waitForSandboxProcess(sessionId: string, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let containerId = '';
    let processes = '';
    try {
      containerId = await findSessionContainerId(sessionId);
      processes = execFileSync('docker', ['exec', containerId, 'ps', '-eo', 'args'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    } catch {
      // No container yet, or it is still starting.
    }
    if (pattern.test(processes)) return containerId;
    if (Date.now() > deadline) throw new Error(`no process matching ${pattern} in the sandbox of ${sessionId} after ${timeoutMs} ms:\n${processes}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Removes what the given sessions left in Docker and on the host (container, disk, host
 * folder, volumes) for a test whose worker was a child process it killed: the same
 * `destroy` a worker runs when a session is deleted.
 */
export async function removeSessionSandboxes(sandboxDataDir: string, sessionIds: readonly string[]): Promise<void> {
  const driver = new DockerSandboxDriver({ dataDir: sandboxDataDir });
  try {
    for (const id of sessionIds) await driver.destroy(id, { removeVolume: true });
  } finally {
    await driver.close();
  }
}

/**
 * Unmounts every session disk under `dir` that a test left mounted (a killed worker
 * process never unmounts), so the folder can be removed; returns how many there were.
 */
export function unmountDisksUnder(dir: string): number {
  const root = realpathSync(dir);
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((path) => path.startsWith(`${root}/`));
  for (const path of mounted) execFileSync('umount', ['--lazy', path]);
  return mounted.length;
}
