/**
 * Carries the session's store identity to every activity it schedules, as the header
 * `longhaul-store-id`, so a worker opened on another store refuses the work loudly
 * instead of running it against the wrong database (two engines sharing a task queue
 * by mistake). The id comes from the workflow input (`storeId`), which continue-as-new
 * carries along; sessions started before it existed send no header. Only Longhaul's own
 * workflows send it: on a worker shared with other workflows (`LonghaulPlugin`), theirs
 * may well have a `storeId` of their own.
 */
import {
  defaultPayloadConverter,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
  workflowInfo,
} from '@temporalio/workflow';
import {
  DEPLOYMENT_RUN_WORKFLOW,
  DREAM_WORKFLOW,
  OUTCOME_GRADER_WORKFLOW,
  SCHEDULED_DREAM_WORKFLOW,
  SESSION_CLEANUP_WORKFLOW,
  SESSION_WORKFLOW,
  THREAD_WORKFLOW,
  WEBHOOK_DELIVERY_WORKFLOW,
} from './contract.ts';

/** The activity header that names the store the session belongs to. */
export const STORE_ID_HEADER = 'longhaul-store-id';

const LONGHAUL_WORKFLOWS = new Set([
  SESSION_WORKFLOW,
  THREAD_WORKFLOW,
  SESSION_CLEANUP_WORKFLOW,
  OUTCOME_GRADER_WORKFLOW,
  DEPLOYMENT_RUN_WORKFLOW,
  WEBHOOK_DELIVERY_WORKFLOW,
  DREAM_WORKFLOW,
  SCHEDULED_DREAM_WORKFLOW,
]);

// Module state is per workflow run: each run gets its own isolate context.
let storeId: string | undefined;

function storeIdOf(args: readonly unknown[]): string | undefined {
  const input = args[0];
  if (typeof input !== 'object' || input === null) return undefined;
  const value = (input as { storeId?: unknown }).storeId;
  return typeof value === 'string' ? value : undefined;
}

function withStoreHeader<T extends ActivityInput | LocalActivityInput>(input: T): T {
  if (storeId === undefined) return input;
  return { ...input, headers: { ...input.headers, [STORE_ID_HEADER]: defaultPayloadConverter.toPayload(storeId) } };
}

class StoreIdentityInbound implements WorkflowInboundCallsInterceptor {
  execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    storeId = LONGHAUL_WORKFLOWS.has(workflowInfo().workflowType) ? storeIdOf(input.args) : undefined;
    return next(input);
  }
}

class StoreIdentityOutbound implements WorkflowOutboundCallsInterceptor {
  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    return next(withStoreHeader(input));
  }

  scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>): Promise<unknown> {
    return next(withStoreHeader(input));
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new StoreIdentityInbound()],
  outbound: [new StoreIdentityOutbound()],
});
