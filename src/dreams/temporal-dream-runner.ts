import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { DREAM_WORKFLOW, type DreamWorkflowInput } from '../../workflows/contract.ts';
import type { Dream } from '../schemas/api-dream.ts';
import type { ScheduleTarget } from '../deployments/deployment-schedules.ts';
import type { DreamRunner } from './dream-runner.ts';

/** Runs each dream as a Temporal workflow whose id is the dream's id (`dreamWorkflow`). */
export class TemporalDreamRunner implements DreamRunner {
  readonly #client: Client;
  readonly #taskQueue: string;
  readonly #storeId: string;

  constructor({ client, taskQueue, storeId }: ScheduleTarget) {
    this.#client = client;
    this.#taskQueue = taskQueue;
    this.#storeId = storeId;
  }

  async start(dream: Dream): Promise<void> {
    const input: DreamWorkflowInput = { dreamId: dream.id, storeId: this.#storeId };
    try {
      await this.#client.workflow.start(DREAM_WORKFLOW, { taskQueue: this.#taskQueue, workflowId: dream.id, args: [input] });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  async cancel(dreamId: string): Promise<void> {
    try {
      await this.#client.workflow.getHandle(dreamId).cancel();
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
}
