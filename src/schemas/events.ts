import { z } from 'zod';
import { MAX_OUTCOME_ITERATIONS, MAX_RUBRIC_CHARS } from '../core/outcomes.ts';
import { DocumentBlock, ImageBlock, TextBlock, UserContentBlock } from './content.ts';

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

/** Tool result content: what `user.custom_tool_result` may carry. */
export const ToolResultContentBlock = z.discriminatedUnion('type', [
  TextBlock,
  ImageBlock,
  DocumentBlock,
  z.object({
    type: z.literal('search_result'),
    source: z.string(),
    title: z.string(),
    content: z.array(TextBlock),
    citations: z.object({ enabled: z.boolean() }).optional(),
  }),
]);
export type ToolResultContentBlock = z.infer<typeof ToolResultContentBlock>;

/** Approves or denies a call held by an `always_ask` (or `auto` → ask) policy. */
export const UserToolConfirmationEventParams = z
  .object({
    type: z.literal('user.tool_confirmation'),
    tool_use_id: z.string().min(1),
    result: z.enum(['allow', 'deny']),
    deny_message: z.string().max(10_000).nullish(),
  })
  .refine((e) => e.result === 'deny' || e.deny_message == null, { message: 'deny_message is only allowed with result "deny"', path: ['deny_message'] });
export type UserToolConfirmationEventParams = z.infer<typeof UserToolConfirmationEventParams>;

/** The client's answer to an `agent.custom_tool_use`. */
export const UserCustomToolResultEventParams = z.object({
  type: z.literal('user.custom_tool_result'),
  custom_tool_use_id: z.string().min(1),
  content: z.array(ToolResultContentBlock).optional(),
  is_error: z.boolean().nullish(),
});
export type UserCustomToolResultEventParams = z.infer<typeof UserCustomToolResultEventParams>;

/** A self-hosted environment's worker's answer to an `agent.tool_use` (the tool ran on the worker's machine). */
export const UserToolResultEventParams = z.object({
  type: z.literal('user.tool_result'),
  tool_use_id: z.string().min(1),
  content: z.array(ToolResultContentBlock).optional(),
  is_error: z.boolean().nullish(),
});
export type UserToolResultEventParams = z.infer<typeof UserToolResultEventParams>;

/** Operator guidance the model sees with the next turn (text only). */
export const SystemMessageEventParams = z.object({
  type: z.literal('system.message'),
  content: z.array(TextBlock).min(1, 'content must have at least one block'),
});
export type SystemMessageEventParams = z.infer<typeof SystemMessageEventParams>;


export const OutcomeRubric = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), content: z.string().min(1, 'rubric content must not be empty').max(MAX_RUBRIC_CHARS) }),
  z.object({ type: z.literal('file'), file_id: z.string().min(1) }),
]);
export type OutcomeRubric = z.infer<typeof OutcomeRubric>;

/** What done looks like: the agent works on `description`; a grader checks the work against `rubric`. */
export const UserDefineOutcomeEventParams = z.object({
  type: z.literal('user.define_outcome'),
  description: z.string().min(1, 'description must not be empty').max(MAX_RUBRIC_CHARS),
  rubric: OutcomeRubric,
  max_iterations: z.number().int().min(1).max(MAX_OUTCOME_ITERATIONS).nullish(),
});
export type UserDefineOutcomeEventParams = z.infer<typeof UserDefineOutcomeEventParams>;

/** The user events the session workflow accepts. */
export const UserEventParams = z.discriminatedUnion('type', [
  UserMessageEventParams,
  UserInterruptEventParams,
  UserToolConfirmationEventParams,
  UserCustomToolResultEventParams,
  UserToolResultEventParams,
  SystemMessageEventParams,
  UserDefineOutcomeEventParams,
]);
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
export type SessionErrorObject =
  | {
      type: 'unknown_error' | 'model_overloaded_error' | 'model_rate_limited_error' | 'model_request_failed_error' | 'billing_error';
      message: string;
      retry_status: RetryStatus;
    }
  | { type: 'mcp_connection_failed_error' | 'mcp_authentication_failed_error'; mcp_server_name: string; message: string; retry_status: RetryStatus }
  /** The context could not be compacted to fit the model's window: the turn stopped (`retries_exhausted`). */
  | { type: 'compaction_limit_reached_error'; message: string; retry_status: RetryStatus };
