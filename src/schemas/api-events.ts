import { z } from 'zod';
import { SystemMessageEventParams, UserCustomToolResultEventParams, UserDefineOutcomeEventParams, UserInterruptEventParams, UserMessageEventParams, UserToolConfirmationEventParams, UserToolResultEventParams } from './events.ts';

/** What `events.send`, `events.list` and the event stream take and give. */

/** Every `SessionEventType` (the `types[]` filter of `events.list`). */
export const SESSION_EVENT_TYPES = [
  'user.message', 'user.interrupt', 'user.tool_confirmation', 'user.custom_tool_result', 'user.define_outcome', 'user.tool_result', 'system.message',
  'agent.custom_tool_use', 'agent.message', 'agent.thinking', 'agent.mcp_tool_use', 'agent.mcp_tool_result', 'agent.tool_use', 'agent.tool_result',
  'agent.thread_message_received', 'agent.thread_message_sent', 'agent.thread_context_compacted',
  'session.error', 'session.status_rescheduled', 'session.status_running', 'session.status_idle', 'session.status_terminated', 'session.thread_created',
  'session.thread_status_running', 'session.thread_status_idle', 'session.thread_status_terminated', 'session.thread_status_rescheduled',
  'session.updated', 'session.usage',
  'span.outcome_evaluation_start', 'span.outcome_evaluation_end', 'span.model_request_start', 'span.model_request_end', 'span.outcome_evaluation_ongoing',
  'workflow_run.created', 'workflow_run.status_running', 'workflow_run.status_idle', 'workflow_run.status_ended', 'workflow_run.error',
  'workflow_run.phase_started', 'workflow_run.phase_ended',
] as const;
export const SessionEventType = z.enum(SESSION_EVENT_TYPES);

export const SendEventParams = z.discriminatedUnion('type', [
  UserMessageEventParams,
  UserInterruptEventParams,
  UserToolConfirmationEventParams,
  UserCustomToolResultEventParams,
  SystemMessageEventParams,
  UserDefineOutcomeEventParams,
  UserToolResultEventParams,
]);

// `system.message` rides with what it qualifies: last in the request, right after a message or a tool result.
const SYSTEM_MESSAGE_FOLLOWS = new Set(['user.message', 'user.custom_tool_result', 'user.tool_result']);

/** Body of `POST /v1/sessions/{session_id}/events`. */
export const EventSendParams = z.object({
  events: z
    .array(SendEventParams)
    .min(1)
    .max(50)
    .superRefine((events, ctx) => {
      events.forEach((event, index) => {
        if (event.type !== 'system.message') return;
        const previous = events[index - 1];
        if (index !== events.length - 1 || !previous || !SYSTEM_MESSAGE_FOLLOWS.has(previous.type)) {
          ctx.addIssue({ code: 'custom', path: [index, 'type'], message: 'system.message must be the last event and directly follow a user.message, user.custom_tool_result or user.tool_result' });
        }
      });
    }),
});
export type EventSendParams = z.infer<typeof EventSendParams>;

/**
 * A stored event. Shapes are the SDK's `BetaManagedAgentsSessionEvent` union;
 * the document names the common fields and lets the rest through.
 */
export const SessionEventObject = z.object({ id: z.string(), type: SessionEventType, processed_at: z.string().nullish() }).loose();

export const SendEventsResponse = z.object({ data: z.array(SessionEventObject).optional() });
