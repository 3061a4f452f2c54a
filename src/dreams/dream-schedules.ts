import { ScheduleNotFoundError, type Client, type ScheduleOptions } from '@temporalio/client';
import { SCHEDULED_DREAM_WORKFLOW, type ScheduledDreamInput } from '../../workflows/contract.ts';
import { calendarsOf } from '../deployments/cron-expression.ts';
import { CATCHUP_WINDOW, UPCOMING_RUNS, type ScheduleTarget } from '../deployments/deployment-schedules.ts';
import { NotFoundError } from '../errors.ts';
import type { CronScheduleParams } from '../schemas/api-deployment.ts';
import type { DreamSchedule, DreamScheduleParams } from '../schemas/api-dream.ts';

/** A memory store's dream schedule: its Temporal Schedule's id. */
export function dreamScheduleIdOf(memoryStoreId: string): string {
  return `dream:${memoryStoreId}`;
}

/**
 * Scheduled dreaming (a Longhaul extension): one Temporal Schedule per memory store, the
 * same machinery as deployments' routines. Each fire starts `scheduledDreamWorkflow`,
 * which starts a dream over the sessions that used the store since its last dream. The
 * Schedule is the whole record: its action carries the dream's settings, its spec the cron.
 */
export class DreamSchedules {
  readonly #client: Client;
  readonly #taskQueue: string;
  readonly #storeId: string;

  constructor({ client, taskQueue, storeId }: ScheduleTarget) {
    this.#client = client;
    this.#taskQueue = taskQueue;
    this.#storeId = storeId;
  }

  /** Creates or replaces the store's dream schedule. */
  async set(memoryStoreId: string, params: DreamScheduleParams): Promise<DreamSchedule> {
    const options = this.#optionsOf(memoryStoreId, params);
    const handle = this.#client.schedule.getHandle(options.scheduleId);
    try {
      await handle.update((previous) => ({ spec: options.spec, action: options.action, policies: options.policies!, state: previous.state }));
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
      await this.#client.schedule.create(options);
    }
    return this.retrieve(memoryStoreId);
  }

  async retrieve(memoryStoreId: string): Promise<DreamSchedule> {
    try {
      const description = await this.#client.schedule.getHandle(dreamScheduleIdOf(memoryStoreId)).describe();
      const input = (description.action as { args?: unknown[] }).args?.[0] as ScheduledDreamInput & { schedule: CronScheduleParams };
      const last = description.info.recentActions.at(-1);
      return {
        type: 'dream_schedule',
        memory_store_id: memoryStoreId,
        schedule: {
          ...input.schedule,
          upcoming_runs_at: description.info.nextActionTimes.slice(0, UPCOMING_RUNS).map((at) => at.toISOString()),
          last_run_at: last ? last.scheduledAt.toISOString() : null,
        },
        model: { id: input.model, speed: 'standard' },
        instructions: input.instructions,
        output_behavior: input.outputBehavior === 'update_existing' ? { type: 'update_existing', memory_store_id: memoryStoreId } : { type: 'create_new' },
      };
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) throw new NotFoundError(`memory store ${memoryStoreId} has no dream schedule`);
      throw error;
    }
  }

  async remove(memoryStoreId: string): Promise<void> {
    try {
      await this.#client.schedule.getHandle(dreamScheduleIdOf(memoryStoreId)).delete();
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) throw new NotFoundError(`memory store ${memoryStoreId} has no dream schedule`);
      throw error;
    }
  }

  /** Fires the schedule now, as if its time had come. */
  async trigger(memoryStoreId: string): Promise<void> {
    try {
      await this.#client.schedule.getHandle(dreamScheduleIdOf(memoryStoreId)).trigger();
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) throw new NotFoundError(`memory store ${memoryStoreId} has no dream schedule`);
      throw error;
    }
  }

  #optionsOf(memoryStoreId: string, params: DreamScheduleParams): ScheduleOptions {
    const { expression, timezone } = params.schedule;
    const model = typeof params.model === 'string' ? params.model : params.model.id;
    const input: ScheduledDreamInput & { schedule: CronScheduleParams } = {
      storeId: this.#storeId,
      memoryStoreId,
      model,
      instructions: params.instructions ?? null,
      outputBehavior: params.output_behavior?.type ?? 'create_new',
      schedule: { type: 'cron', expression, timezone },
    };
    return {
      scheduleId: dreamScheduleIdOf(memoryStoreId),
      spec: { calendars: calendarsOf(expression), timezone },
      action: {
        type: 'startWorkflow',
        workflowType: SCHEDULED_DREAM_WORKFLOW,
        // Temporal appends each fire's scheduled time: every fire has an id (and a dream id) of its own.
        workflowId: `dream-schedule:${memoryStoreId}`,
        taskQueue: this.#taskQueue,
        args: [input],
      },
      policies: { overlap: 'SKIP', catchupWindow: CATCHUP_WINDOW, pauseOnFailure: false },
      state: { note: `dreams over memory store ${memoryStoreId}` },
    };
  }
}
