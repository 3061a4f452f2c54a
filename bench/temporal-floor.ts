import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { DevServer } from '../src/temporal/dev-server.ts';
import { nowMs } from './bench-model-script.ts';
import type { NullActivities, NullLoopVariant } from './null-workflow.ts';
import { nullLoopWorkflow } from './null-workflow.ts';
import { progress, round, summarize, type Summary } from './stats.ts';
import { activityHandoffs, historyTimeline, type GapStats } from './workflow-history.ts';

const workflowsPath = fileURLToPath(new URL('./null-workflow.ts', import.meta.url));

export type TemporalFloorVariant = { per_step_ms: number; step_interval: Summary | null; handoffs: Record<string, GapStats> | null };
export type TemporalFloor = { steps: number; variants: Record<NullLoopVariant, TemporalFloorVariant> };

/**
 * Temporal's own cost per step of the session loop's shape, with activities that
 * do nothing, on the same dev server: the floor any Temporal-based loop pays.
 */
export async function measureTemporalFloor({ temporal, client, steps }: { temporal: DevServer; client: Client; steps: number }): Promise<TemporalFloor> {
  const taskQueue = `bench-null-${process.pid}`;
  const activities: NullActivities = {
    noop: async () => {},
    noopWithHeartbeat: async () => {
      Context.current().heartbeat();
    },
  };
  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath, logger: silentLogger }),
    activities,
  });
  const variants = {} as Record<NullLoopVariant, TemporalFloorVariant>;
  await worker.runUntil(async () => {
    const run = async (variant: NullLoopVariant, n: number) => {
      const workflowId = `bench-null-${variant}-${n}-${process.pid}-${Date.now()}`;
      const started = nowMs();
      await client.workflow.execute(nullLoopWorkflow, { taskQueue, workflowId, args: [{ steps: n, variant }] });
      return { workflowId, totalMs: nowMs() - started };
    };
    for (const variant of ['activities', 'activities_with_heartbeat', 'local_activities'] as const) {
      progress(`temporal floor: ${variant}, ${steps} steps`);
      await run(variant, 5);
      const { workflowId, totalMs } = await run(variant, steps);
      const timeline = await historyTimeline(client, workflowId);
      const firsts = timeline.activities.filter((_, i) => i % 2 === 0).map((a) => a.scheduledMs);
      const intervals = firsts.slice(1).map((at, i) => at - firsts[i]!);
      variants[variant] = {
        per_step_ms: round(totalMs / steps),
        step_interval: intervals.length > 0 ? summarize(intervals) : null,
        handoffs: timeline.activities.length > 0 ? activityHandoffs(timeline) : null,
      };
    }
  });
  await connection.close();
  return { steps, variants };
}

const silentLogger = { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, log: () => {} };
