/**
 * Tool-call latency through the in-sandbox executor versus a one-shot `docker exec`,
 * and container create -> usable time. Prints one JSON object.
 *
 *   node bench/sandbox-tool-call.ts [--calls 300] [--execs 40] [--creates 12]
 *
 * Needs Docker and the sandbox image (LONGHAUL_SANDBOX_IMAGE, default longhaul-sandbox:latest).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { DockerSandboxDriver } from '../sandbox/docker-sandbox-driver.ts';

const exec = promisify(execFile);

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '300' },
    execs: { type: 'string', default: '40' },
    creates: { type: 'string', default: '12' },
  },
});
const calls = Number(values.calls);
const execs = Number(values.execs);
const creates = Number(values.creates);
const image = process.env['LONGHAUL_SANDBOX_IMAGE'] ?? 'longhaul-sandbox:latest';

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[index] ?? Number.NaN) * 100) / 100;
}

function summary(samples: number[]): { n: number; p50_ms: number; p95_ms: number } {
  return { n: samples.length, p50_ms: percentile(samples, 50), p95_ms: percentile(samples, 95) };
}

const dataDir = await mkdtemp(join(tmpdir(), 'longhaul-bench-'));
const driver = new DockerSandboxDriver({ dataDir, image });
const run = randomBytes(3).toString('hex');
const sessions: string[] = [];
const newSession = (): string => {
  const id = `bench${run}-${sessions.length}`;
  sessions.push(id);
  return id;
};

try {
  const sandbox = await driver.ensure({ sessionId: newSession(), networking: { type: 'limited' } });

  // Warm up: the shell starts on the first bash call.
  for (let i = 0; i < 10; i++) {
    await sandbox.runTool({ toolUseId: `warm-${run}-${i}`, name: 'bash', input: { command: 'echo hi' } });
  }
  const executorMs: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    const outcome = await sandbox.runTool({ toolUseId: `call-${run}-${i}`, name: 'bash', input: { command: 'echo hi' } });
    executorMs.push(performance.now() - started);
    if (outcome.content[0]?.text !== 'hi\n') throw new Error(`unexpected output: ${JSON.stringify(outcome)}`);
  }
  const replayMs: number[] = [];
  for (let i = 0; i < Math.min(calls, 100); i++) {
    const started = performance.now();
    await sandbox.runTool({ toolUseId: `call-${run}-${i}`, name: 'bash', input: { command: 'echo hi' } });
    replayMs.push(performance.now() - started);
  }

  const dockerExecMs: number[] = [];
  for (let i = 0; i < execs; i++) {
    const started = performance.now();
    const { stdout } = await exec('docker', ['exec', sandbox.containerId, 'bash', '-c', 'echo hi']);
    dockerExecMs.push(performance.now() - started);
    if (stdout !== 'hi\n') throw new Error(`unexpected docker exec output: ${stdout}`);
  }

  const createMs: number[] = [];
  const firstCallMs: number[] = [];
  for (let i = 0; i < creates; i++) {
    const sessionId = newSession();
    const started = performance.now();
    const fresh = await driver.ensure({ sessionId, networking: { type: 'limited' } });
    createMs.push(performance.now() - started);
    const callStarted = performance.now();
    await fresh.runTool({ toolUseId: `first-${run}-${i}`, name: 'bash', input: { command: 'echo hi' } });
    firstCallMs.push(performance.now() - callStarted);
    await driver.destroy(sessionId, { removeVolume: true });
  }

  console.log(
    JSON.stringify(
      {
        image,
        executor_bash_echo: summary(executorMs),
        executor_replay_of_journaled_call: summary(replayMs),
        docker_exec_bash_echo: summary(dockerExecMs),
        container_create_to_usable: summary(createMs),
        first_bash_call_in_new_container: summary(firstCallMs),
      },
      null,
      2,
    ),
  );
} finally {
  await driver.close();
  for (const sessionId of sessions) await driver.destroy(sessionId, { removeVolume: true });
  await rm(dataDir, { recursive: true, force: true });
}
