import { Worker, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { bundleLonghaulWorkflows } from './bundle-workflows.ts';
import { createLonghaulActivities, type LonghaulActivityOptions } from './longhaul-activities.ts';
import { storeIdentityCheck } from './store-identity-check.ts';
import type { Telemetry } from '../telemetry/start-telemetry.ts';

import { DEFAULT_TASK_QUEUE } from '../../workflows/contract.ts';

export { bundleLonghaulWorkflows } from './bundle-workflows.ts';

export type LonghaulWorkerOptions = LonghaulActivityOptions & {
  connection: NativeConnection;
  /** Default `default`. */
  namespace?: string;
  /** Default `longhaul`. */
  taskQueue?: string;
  workflowBundle?: WorkflowBundle;
  /** Concurrent activities (model calls and tool calls). Default 100. */
  maxConcurrentActivities?: number;
  /** Activity heartbeat interval, which also bounds how fast an interrupt reaches a running call. Default 1000 ms. */
  heartbeatEveryMs?: number;
  /**
   * On shutdown, how long running model and tool calls may finish before they are
   * cancelled (and retried on another worker). Default 30 000 ms.
   */
  shutdownGraceTimeMs?: number;
  /**
   * How long a shutdown may take, from when it was asked for, before it is given up: the
   * worker's `run()` then rejects (`GracefulShutdownPeriodExpiredError`), leaving what was
   * still running to Temporal's retries. For a worker whose Temporal server may be gone
   * before it (its completions would be retried for ever). Longer than
   * `shutdownGraceTimeMs`. Default: never given up.
   */
  shutdownForceTimeMs?: number | undefined;
  /**
   * Started tracing (`startTelemetry`): activities get spans and the workflows' spans are
   * exported. A given `workflowBundle` must then be bundled with the same `telemetry` for
   * the workflows to make spans. Default: none (no tracing).
   */
  telemetry?: Telemetry | undefined;
};

/**
 * A Temporal worker that runs Longhaul sessions: the session workflow plus its
 * activities (model calls, sandbox tools, event persistence). To run them on a worker
 * of your own instead, give it `LonghaulPlugin`.
 *
 * @example
 * const worker = await createLonghaulWorker({ connection, store, sandboxes });
 * await worker.run();
 */
export async function createLonghaulWorker({
  connection,
  namespace = 'default',
  taskQueue = DEFAULT_TASK_QUEUE,
  workflowBundle,
  maxConcurrentActivities = 100,
  heartbeatEveryMs = 1000,
  shutdownGraceTimeMs = 30_000,
  shutdownForceTimeMs,
  telemetry,
  ...activityOptions
}: LonghaulWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowBundle: workflowBundle ?? (await bundleLonghaulWorkflows({ telemetry })),
    activities: createLonghaulActivities({ ...activityOptions, heartbeatEveryMs }),
    // The workflow half (the store id header) is in the bundle: bundleLonghaulWorkflows adds it.
    interceptors: { activity: [storeIdentityCheck({ storeId: activityOptions.store.storeId }), ...(telemetry?.activityInterceptors ?? [])] },
    ...(telemetry ? { sinks: telemetry.sinks } : {}),
    maxConcurrentActivityTaskExecutions: maxConcurrentActivities,
    shutdownGraceTime: shutdownGraceTimeMs,
    ...(shutdownForceTimeMs !== undefined ? { shutdownForceTime: shutdownForceTimeMs } : {}),
    // Cancellation reaches an activity on its next heartbeat; keep that short so interrupts are prompt.
    maxHeartbeatThrottleInterval: heartbeatEveryMs,
    defaultHeartbeatThrottleInterval: heartbeatEveryMs,
  });
}
