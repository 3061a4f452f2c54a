import { ScheduleNotFoundError, type Client, type ScheduleOptions } from '@temporalio/client';
import { msToTs, tsToDate } from '@temporalio/common/lib/time.js';
import { DEPLOYMENT_RUN_WORKFLOW, type DeploymentRunInput } from '../../workflows/contract.ts';
import type { StoredDeployment } from '../schemas/api-deployment.ts';
import { calendarsOf } from './cron-expression.ts';

/** What the Schedule tells a deployment's `schedule` object. */
export type ScheduleTimes = { upcoming_runs_at: string[]; last_run_at: string | null };

/** The most upcoming runs a schedule lists. */
export const UPCOMING_RUNS = 5;

/** Where a schedule's workflows run: the Temporal client, their task queue and the store they belong to. */
export type ScheduleTarget = { client: Client; taskQueue: string; storeId: string };

/**
 * How long after a missed fire (Temporal server down, say) a run still starts. Past it
 * the fire is dropped: a 08:00 report run at 15:00 helps nobody, and a long outage
 * must not start a burst of runs when it ends.
 */
export const CATCHUP_WINDOW = '10 minutes';

/** The Temporal Schedule of a deployment: its id, for the Temporal UI and `temporal schedule` commands. */
export function scheduleIdOf(deploymentId: string): string {
  return `deployment:${deploymentId}`;
}

/**
 * One Temporal Schedule per scheduled deployment, kept in line with it. The Schedule
 * starts `deploymentRunWorkflow`, which creates the run's session and lasts until
 * that session settles; the overlap policy SKIP means a fire while the previous run
 * is still working is skipped, not queued.
 */
export class DeploymentSchedules {
  readonly #client: Client;
  readonly #taskQueue: string;
  readonly #storeId: string;

  constructor({ client, taskQueue, storeId }: ScheduleTarget) {
    this.#client = client;
    this.#taskQueue = taskQueue;
    this.#storeId = storeId;
  }

  /** Creates, changes or deletes the deployment's Schedule so it matches `deployment`. */
  async apply(deployment: StoredDeployment): Promise<void> {
    if (deployment.schedule === null || deployment.archived_at !== null) return this.remove(deployment.id);
    const options = this.#optionsOf(deployment);
    const handle = this.#client.schedule.getHandle(options.scheduleId);
    try {
      await handle.update((previous) => ({ spec: options.spec, action: options.action, policies: options.policies!, state: { ...previous.state, ...options.state } }));
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
      await this.#client.schedule.create(options);
    }
  }

  async remove(deploymentId: string): Promise<void> {
    try {
      await this.#client.schedule.getHandle(scheduleIdOf(deploymentId)).delete();
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
  }

  /** Next runs (none while paused) and the last, as the Schedule reports them. */
  async times(deployment: StoredDeployment): Promise<ScheduleTimes> {
    if (deployment.schedule === null) return { upcoming_runs_at: [], last_run_at: null };
    try {
      const { info, state } = await this.#client.schedule.getHandle(scheduleIdOf(deployment.id)).describe();
      const last = info.recentActions.at(-1);
      return {
        upcoming_runs_at: state.paused ? [] : info.nextActionTimes.slice(0, UPCOMING_RUNS).map((at) => at.toISOString()),
        // Whole seconds, as the run's own `scheduled_at` has them (from the id Temporal gives the fire).
        last_run_at: last ? new Date(Math.floor(last.scheduledAt.getTime() / 1000) * 1000).toISOString() : null,
      };
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return { upcoming_runs_at: [], last_run_at: null };
      throw error;
    }
  }

  /** When the Schedule would fire between `from` and `to` (whatever its paused state): the server computes it, DST and all. */
  async matchingTimes(deploymentId: string, from: Date, to: Date): Promise<Date[]> {
    const response = await this.#client.workflowService.listScheduleMatchingTimes({
      namespace: this.#client.options.namespace,
      scheduleId: scheduleIdOf(deploymentId),
      startTime: msToTs(from.getTime()),
      endTime: msToTs(to.getTime()),
    });
    return (response.startTime ?? []).map((t) => tsToDate(t));
  }

  /** Fires the Schedule now, as if its time had come (overlap policy and all). */
  async trigger(deploymentId: string): Promise<void> {
    await this.#client.schedule.getHandle(scheduleIdOf(deploymentId)).trigger();
  }

  #optionsOf(deployment: StoredDeployment): ScheduleOptions {
    const { expression, timezone } = deployment.schedule!;
    const input: DeploymentRunInput = { deploymentId: deployment.id, storeId: this.#storeId };
    return {
      scheduleId: scheduleIdOf(deployment.id),
      spec: { calendars: calendarsOf(expression), timezone },
      action: {
        type: 'startWorkflow',
        workflowType: DEPLOYMENT_RUN_WORKFLOW,
        // Temporal appends each fire's scheduled time, so every run has an id of its own.
        workflowId: `${deployment.id}:run`,
        taskQueue: this.#taskQueue,
        args: [input],
      },
      policies: { overlap: 'SKIP', catchupWindow: CATCHUP_WINDOW, pauseOnFailure: false },
      state: {
        paused: deployment.status === 'paused',
        note: deployment.status === 'paused' ? `paused: ${deployment.paused_reason?.type ?? 'manual'}` : `deployment ${deployment.name}`,
      },
    };
  }
}
