/**
 * Carries the session's store identity to every activity it schedules, as the header
 * `longhaul-store-id`, so a worker opened on another store refuses the work loudly
 * instead of running it against the wrong database (two engines sharing a task queue
 * by mistake). The id comes from the workflow input (`storeId`), which continue-as-new
 * carries along; sessions started before it existed send no header.
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
} from '@temporalio/workflow';

/** The activity header that names the store the session belongs to. */
export const STORE_ID_HEADER = 'longhaul-store-id';

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
    storeId = storeIdOf(input.args);
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
