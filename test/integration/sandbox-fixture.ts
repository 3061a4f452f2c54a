/**
 * Shared setup for the sandbox integration tests: a driver on a temporary data folder,
 * unique session ids, and teardown that removes exactly what the test created (other
 * people's sandboxes on the same Docker engine are left alone; Ryuk is off).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getContainerRuntimeClient } from 'testcontainers';
import { DockerSandboxDriver, type DockerSandboxDriverOptions } from '../../sandbox/docker-sandbox-driver.ts';
import type { SandboxSpec, ToolOutcome } from '../../sandbox/types.ts';

export const SANDBOX_IMAGE = process.env['LONGHAUL_SANDBOX_IMAGE'] ?? 'longhaul-sandbox:latest';

export const exec = promisify(execFile);

export type SandboxFixture = {
  dataDir: string;
  driver: DockerSandboxDriver;
  /** A fresh session id, destroyed (with its volume) on dispose. */
  newSessionId(label?: string): string;
  /** Another driver on the same data folder: what a new worker process would build. */
  newDriver(options?: Partial<DockerSandboxDriverOptions>): DockerSandboxDriver;
  spec(sessionId: string, extra?: Partial<SandboxSpec>): SandboxSpec;
  [Symbol.asyncDispose](): Promise<void>;
};

export async function createSandboxFixture(options: Partial<DockerSandboxDriverOptions> = {}): Promise<SandboxFixture> {
  await assertImagePresent();
  const dataDir = await mkdtemp(join(tmpdir(), 'longhaul-sbx-test-'));
  const drivers: DockerSandboxDriver[] = [];
  const sessions: string[] = [];
  const run = randomBytes(3).toString('hex');
  const newDriver = (extra: Partial<DockerSandboxDriverOptions> = {}): DockerSandboxDriver => {
    const driver = new DockerSandboxDriver({ dataDir, image: SANDBOX_IMAGE, ...options, ...extra });
    drivers.push(driver);
    return driver;
  };
  const driver = newDriver();
  return {
    dataDir,
    driver,
    newDriver,
    newSessionId(label = 's') {
      const id = `t${run}-${label}-${sessions.length}`;
      sessions.push(id);
      return id;
    },
    spec: (sessionId, extra = {}) => ({ sessionId, networking: { type: 'limited' }, ...extra }),
    async [Symbol.asyncDispose]() {
      for (const d of drivers) await d.close();
      for (const sessionId of sessions) await driver.destroy(sessionId, { removeVolume: true });
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function assertImagePresent(): Promise<void> {
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  try {
    await docker.getImage(SANDBOX_IMAGE).inspect();
  } catch {
    throw new Error(`sandbox image ${SANDBOX_IMAGE} is missing: build it with \`npm run setup\` first`);
  }
}

/** The text of a one-block outcome. */
export function text(outcome: ToolOutcome): string {
  return outcome.content.map((block) => block.text).join('');
}

let counter = 0;
/** A unique tool_use id. */
export function toolUseId(): string {
  counter += 1;
  return `toolu_test_${process.pid}_${Date.now()}_${counter}`;
}
