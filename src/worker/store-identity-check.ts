import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { STORE_ID_HEADER } from '../../workflows/store-identity-interceptors.ts';

/** The failure type of work refused because its session belongs to another store. */
export const STORE_MISMATCH = 'StoreMismatch';

/**
 * Refuses every activity whose session belongs to another store than this worker's
 * (the workflow sends its store's id in the `longhaul-store-id` header): two engines on
 * one task queue would otherwise run each other's sessions against the wrong database.
 * Refused loudly: logged at error level, and failed without retries, before the activity
 * touches anything.
 */
export function storeIdentityCheck({ storeId }: { storeId: string }): ActivityInterceptorsFactory {
  return (context) => ({
    inbound: new (class implements ActivityInboundCallsInterceptor {
      async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
        const header = input.headers[STORE_ID_HEADER];
        const sessionStore = header === undefined ? undefined : (defaultPayloadConverter.fromPayload(header) as unknown);
        if (sessionStore !== undefined && sessionStore !== storeId) {
          const { activityType } = context.info;
          const sessionId = context.info.workflowExecution?.workflowId ?? 'unknown';
          const message =
            `refused ${activityType} of session ${sessionId}: it belongs to store ${String(sessionStore)}, ` +
            `this worker serves store ${storeId}. Two Longhaul engines share a Temporal namespace and task queue: ` +
            'give each its own task queue (--task-queue) or namespace';
          context.log.error(message, { sessionId, sessionStore, workerStore: storeId });
          throw ApplicationFailure.create({ message, type: STORE_MISMATCH, nonRetryable: true });
        }
        return next(input);
      }
    })(),
  });
}
