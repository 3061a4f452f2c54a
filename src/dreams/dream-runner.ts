import type { Dream } from '../schemas/api-dream.ts';

/**
 * What runs dreams: the API's dream service hands it each new dream and each cancel.
 * The Temporal implementation starts one workflow per dream (id = the dream's id) that
 * moves the dream's status from `pending` on; `cancel` asks that workflow to stop.
 */
export interface DreamRunner {
  /** Starts the dream's run. Idempotent per dream id (a retried create starts nothing twice). */
  start(dream: Dream): Promise<void>;
  /** Asks the dream's run to stop. No error when it has already ended. */
  cancel(dreamId: string): Promise<void>;
}
