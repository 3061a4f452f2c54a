import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { MALLOC_SETTINGS } from '../../src/config/memory-settings.ts';
import type { Harness } from './harness.ts';

const workerMain = fileURLToPath(new URL('./worker-process.ts', import.meta.url));

/**
 * A Longhaul worker in its own OS process (`worker-process.ts`) for the harness's task
 * queue, sandboxes and scripted model, on a PostgreSQL store: tests kill -9 it.
 * Resolves once it polls.
 */
export async function startWorkerProcess(
  harness: Harness,
  {
    postgresUrl,
    temporalAddress,
    context = {},
    workflowBundlePath,
    memoryProbe = false,
  }: {
    postgresUrl: string;
    temporalAddress: string;
    context?: { contextWindowTokens?: number; contextBudgetBytes?: number };
    /** A workflow bundle's code, written beforehand (`bundleLonghaulWorkflows`): the worker does not bundle. */
    workflowBundlePath?: string;
    /** The worker answers `probeWorkerMemory`. */
    memoryProbe?: boolean;
  },
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [workerMain], {
    env: {
      // As `longhaul worker` relaunches itself (src/config/memory-settings.ts): the long-session bench measures this process's memory.
      ...MALLOC_SETTINGS,
      ...process.env,
      ...(workflowBundlePath !== undefined ? { LONGHAUL_TEST_WORKFLOW_BUNDLE: workflowBundlePath } : {}),
      ...(context.contextWindowTokens !== undefined ? { LONGHAUL_TEST_CONTEXT_WINDOW_TOKENS: String(context.contextWindowTokens) } : {}),
      ...(context.contextBudgetBytes !== undefined ? { LONGHAUL_TEST_CONTEXT_BUDGET_BYTES: String(context.contextBudgetBytes) } : {}),
      LONGHAUL_TEST_DATABASE_URL: postgresUrl,
      LONGHAUL_TEST_TEMPORAL_ADDRESS: temporalAddress,
      LONGHAUL_TEST_TASK_QUEUE: harness.taskQueue,
      LONGHAUL_TEST_SANDBOX_DIR: `${harness.dataDir}/sandboxes`,
      LONGHAUL_TEST_MODEL_URL: harness.model.url,
    },
    stdio: ['ignore', 'pipe', 'inherit', ...(memoryProbe ? (['ipc'] as const) : [])],
  });
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => [Buffer.from('exited')])])) as [Buffer];
  assert.equal(line.toString().trim(), 'ready', 'worker process started');
  return child;
}

export { kill9 } from './longhaul-cli.ts';

/**
 * What a worker started with `memoryProbe` retains: `process.memoryUsage()` right after a
 * full, compacting garbage collection in the worker (which also gives emptied pages back).
 */
export async function probeWorkerMemory(child: ChildProcess, { timeoutMs = 30_000 }: { timeoutMs?: number } = {}): Promise<NodeJS.MemoryUsage> {
  if (!child.connected) throw new Error('probeWorkerMemory: the worker was not started with memoryProbe');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`the worker did not report its memory within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: unknown) => {
      const memory = (message as { memory?: NodeJS.MemoryUsage }).memory;
      if (memory !== undefined) finish(undefined, memory);
    };
    const finish = (error?: Error, usage?: NodeJS.MemoryUsage) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      if (error) reject(error);
      else resolve(usage!);
    };
    child.on('message', onMessage);
    child.send('memory');
  });
}
