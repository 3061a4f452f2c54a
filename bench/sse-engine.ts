import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { openPostgresDriver } from '../src/store/postgres-driver.ts';
import { SessionStore } from '../src/store/session-store.ts';
import { ScriptedModelServer } from '../src/testing/index.ts';
import { createLonghaulWorker } from '../src/worker/create-worker.ts';
import { DockerSandboxDriver } from '../sandbox/docker-sandbox-driver.ts';
import { startTestTemporal, workflowBundle } from '../test/support/harness.ts';
import { freePort } from '../src/net/free-port.ts';
import { startPostgres } from '../test/support/postgres.ts';
import type { BenchModelScript } from './bench-model-script.ts';
import { progress } from './stats.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const API_KEY = 'lh-bench-sse-key';

/** What the SSE benchmarks drive: `longhaul serve` in its own process, and their handles on the rest. */
export type SseEngine = {
  /** The official SDK pointed at `longhaul serve`; retries off, so a failure shows. */
  client: Anthropic;
  /** The same PostgreSQL store `serve` reads: the benchmarks append to it as a worker would. */
  store: SessionStore;
  /** Ends a session the benchmarks made: terminates its workflow and removes its sandbox once any creation in flight has settled. */
  endSession(sessionId: string): Promise<void>;
  close(): Promise<void>;
};

/**
 * A production-shaped engine: a throwaway PostgreSQL server, a Temporal dev server,
 * a worker in this process (zero-latency `script` behind the real Anthropic SDK,
 * Docker sandboxes) and `node bin/longhaul.js serve` as a child process — so the
 * streams are served by one process that does nothing else, over real HTTP.
 */
export async function startSseEngine({ script }: { script: BenchModelScript }): Promise<SseEngine> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const run of closers.reverse()) await run().catch((error: unknown) => progress(`sse engine: while closing: ${String(error)}`));
  };
  try {
    progress('sse: starting PostgreSQL and the Temporal dev server');
    const [postgres, temporal] = await Promise.all([startPostgres(), startTestTemporal()]);
    closers.push(() => postgres.stop(), () => temporal.stop());
    const databaseUrl = await postgres.createDatabase();
    const taskQueue = `bench-sse-${process.pid}`;

    const store = await SessionStore.open(await openPostgresDriver({ url: databaseUrl }));
    closers.push(() => store.close());
    const model = await ScriptedModelServer.start({ script: script.script });
    closers.push(() => model.close());
    const dataDir = mkdtempSync(join(tmpdir(), 'longhaul-bench-sse-'));
    closers.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const sandboxes = new DockerSandboxDriver({ dataDir: join(dataDir, 'sandboxes') });
    // Sandbox creations in flight per session: a sandbox removed while one runs would come back and outlive the bench.
    const ensuring = new Map<string, Set<Promise<unknown>>>();
    const ensure = sandboxes.ensure.bind(sandboxes);
    sandboxes.ensure = (spec) => {
      const pending = ensure(spec);
      const set = ensuring.get(spec.sessionId) ?? new Set();
      ensuring.set(spec.sessionId, set);
      const tracked = pending.catch(() => {}).finally(() => set.delete(tracked));
      set.add(tracked);
      return pending;
    };
    const removeSandbox = async (sessionId: string) => {
      await Promise.allSettled([...(ensuring.get(sessionId) ?? [])]);
      await sandboxes.destroy(sessionId, { removeVolume: true }).catch(() => {});
    };
    // Runs after the worker has shut down (closers run newest first): nothing can create a sandbox any more.
    closers.push(async () => {
      for (const sessionId of ensuring.keys()) await removeSandbox(sessionId);
      await sandboxes.close();
    });
    const workerConnection = await NativeConnection.connect({ address: temporal.address });
    closers.push(() => workerConnection.close());
    const worker: Worker = await createLonghaulWorker({
      connection: workerConnection,
      taskQueue,
      store,
      sandboxes,
      anthropic: new Anthropic({ baseURL: model.url, apiKey: 'bench-key' }),
      workflowBundle: await workflowBundle(),
    });
    const running = worker.run();
    closers.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });
    const connection = await Connection.connect({ address: temporal.address });
    closers.push(() => connection.close());

    const port = await freePort();
    progress(`sse: starting longhaul serve on port ${port}`);
    const serve = await startServe({
      port,
      env: { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporal.address, LONGHAUL_TASK_QUEUE: taskQueue, LONGHAUL_API_KEY: API_KEY },
    });
    closers.push(() => stopServe(serve));

    const temporalClient = new Client({ connection });
    return {
      client: new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey: API_KEY, maxRetries: 0 }),
      store,
      endSession: async (sessionId) => {
        await temporalClient.workflow.getHandle(sessionId).terminate('bench over').catch(() => {});
        await removeSandbox(sessionId);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function startServe({ port, env }: { port: number; env: Record<string, string> }): Promise<ChildProcess> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(ANTHROPIC_|LONGHAUL_|DATABASE_URL$|TEMPORAL_)/.test(name)));
  const child = spawn(process.execPath, [join(root, 'bin', 'longhaul.js'), 'serve', '--port', String(port)], {
    cwd: root,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString();
    progress(`serve: ${d.toString().trimEnd()}`);
  });
  const deadline = Date.now() + 60_000;
  while (!output.includes('longhaul serve is ready')) {
    if (child.exitCode !== null) throw new Error(`longhaul serve exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`longhaul serve not ready after 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
