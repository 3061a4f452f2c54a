import { z } from 'zod';
import { UserContentBlock } from './content.ts';

/**
 * Event shapes the server produces are exactly the official SDK's; importing
 * its types keeps us from drifting. Params a client sends are validated here.
 */
export type {
  BetaManagedAgentsSessionEvent as SessionEvent,
  BetaManagedAgentsSessionEventType as SessionEventType,
  BetaManagedAgentsSessionStatusIdleEvent as SessionStatusIdleEvent,
  BetaManagedAgentsSessionErrorEvent as SessionErrorEvent,
  BetaManagedAgentsAgentToolUseEvent as AgentToolUseEvent,
  BetaManagedAgentsAgentToolResultEvent as AgentToolResultEvent,
  BetaManagedAgentsAgentMessageEvent as AgentMessageEvent,
  BetaManagedAgentsSpanModelRequestEndEvent as SpanModelRequestEndEvent,
  BetaManagedAgentsSpanModelUsage as SpanModelUsage,
} from '@anthropic-ai/sdk/resources/beta/sessions/events';

export const UserMessageEventParams = z.object({
  type: z.literal('user.message'),
  content: z.array(UserContentBlock).min(1, 'content must have at least one block'),
});
export type UserMessageEventParams = z.infer<typeof UserMessageEventParams>;

export const UserInterruptEventParams = z.object({
  type: z.literal('user.interrupt'),
  session_thread_id: z.string().nullish(),
});
export type UserInterruptEventParams = z.infer<typeof UserInterruptEventParams>;

/** The user events the session workflow accepts today. */
export const UserEventParams = z.discriminatedUnion('type', [UserMessageEventParams, UserInterruptEventParams]);
export type UserEventParams = z.infer<typeof UserEventParams>;

/** Session stop reasons, as `session.status_idle` reports them. */
export type StopReason =
  | { type: 'end_turn' }
  | { type: 'requires_action'; event_ids: string[] }
  | { type: 'retries_exhausted' }
  | { type: 'budget_reached' }
  | { type: 'refusal' };

export type RetryStatus = { type: 'retrying' } | { type: 'exhausted' } | { type: 'terminal' };

/** `session.error` error objects Longhaul emits. */
export type SessionErrorObject = {
  type: 'unknown_error' | 'model_overloaded_error' | 'model_rate_limited_error' | 'model_request_failed_error' | 'billing_error';
  message: string;
  retry_status: RetryStatus;
};
