/**
 * A Longhaul worker as its own OS process, for tests that kill -9 it. Reads its
 * wiring from the environment and prints `ready` when it polls.
 */
import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { openPostgresDriver } from '../../src/store/postgres-driver.ts';
import { SkillStore } from '../../src/store/skill-store.ts';
import { FileStore } from '../../src/store/file-store.ts';
import { MemoryStores } from '../../src/store/memory-store.ts';
import { SessionMemoryStore } from '../../src/store/session-memory-store.ts';
import { SessionStore } from '../../src/store/session-store.ts';
import { exposedGc } from '../../src/cli/idle-garbage-collection.ts';
import { createLonghaulWorker } from '../../src/worker/create-worker.ts';
import { DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`worker-process: ${name} is not set`);
  return value;
};
/** An optional numeric setting. */
const envNumber = (name: string): number | undefined => (process.env[name] ? Number(process.env[name]) : undefined);

Runtime.install({ logger: new DefaultLogger('WARN') });
const driver = await openPostgresDriver({ url: env('LONGHAUL_TEST_DATABASE_URL') });
const store = await SessionStore.open(driver);
const connection = await NativeConnection.connect({ address: env('LONGHAUL_TEST_TEMPORAL_ADDRESS') });
const worker = await createLonghaulWorker({
  connection,
  taskQueue: env('LONGHAUL_TEST_TASK_QUEUE'),
  store,
  sandboxes: new DockerSandboxDriver({ dataDir: env('LONGHAUL_TEST_SANDBOX_DIR') }),
  anthropic: new Anthropic({ baseURL: env('LONGHAUL_TEST_MODEL_URL'), apiKey: 'test-key' }),
  heartbeatEveryMs: 200,
  files: new FileStore(driver),
  memory: { memories: new MemoryStores(driver), sessionMemory: new SessionMemoryStore(driver) },
  skills: new SkillStore(driver),
  // A bundle built beforehand: the worker then never runs the bundler (whose memory a benchmark of the worker's would count).
  ...(process.env['LONGHAUL_TEST_WORKFLOW_BUNDLE'] ? { workflowBundle: { code: readFileSync(process.env['LONGHAUL_TEST_WORKFLOW_BUNDLE'], 'utf8') } } : {}),
  ...(envNumber('LONGHAUL_TEST_CONTEXT_WINDOW_TOKENS') !== undefined ? { contextWindowTokens: envNumber('LONGHAUL_TEST_CONTEXT_WINDOW_TOKENS') } : {}),
  ...(envNumber('LONGHAUL_TEST_CONTEXT_BUDGET_BYTES') !== undefined ? { contextBudgetBytes: envNumber('LONGHAUL_TEST_CONTEXT_BUDGET_BYTES') } : {}),
});
const running = worker.run();
process.stdout.write('ready\n');
if (process.send !== undefined) {
  // A benchmark asks (over IPC: Temporal's runtime takes SIGUSR2 as a shutdown signal) what the worker
  // holds: a full collection first, so the figures are what is retained, not how far the heap let
  // garbage pile up. The last-resort kind, as under memory pressure: a plain one frees the objects but
  // keeps their pages, so the RSS read after it still said how large the heap had once grown (two runs
  // of one 10,000-step session settled 80 MiB apart holding the same 56 MiB of objects, and one heap
  // kept 193 MiB of pages for 60 MiB of objects).
  const collectGarbage = exposedGc();
  process.on('message', (message) => {
    if (message !== 'memory') return;
    collectGarbage();
    process.send?.({ memory: process.memoryUsage() });
  });
}
process.once('SIGTERM', () => worker.shutdown());
await running;
await store.close();
await connection.close();
