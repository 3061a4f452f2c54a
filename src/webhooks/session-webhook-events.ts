import type { WebhookEventType } from '../schemas/api-webhook.ts';
import type { StoredEvent } from '../store/session-store.ts';

/** A webhook event a session's log tells of: its type, the key that makes it once, and any fields it carries. */
export type SessionWebhookEvent = { type: WebhookEventType; key: string; at: string; fields: Record<string, unknown> };

/**
 * The webhook events in a session's log events: status changes, threads, outcome
 * verdicts. Keyed by the log event's id, so a log event seen again (a retried append)
 * makes the same webhook events, which are then delivered once.
 */
export function sessionWebhookEvents(events: readonly StoredEvent[]): SessionWebhookEvent[] {
  return events.flatMap(({ event }) => {
    const e = event as { id: string; type: string; processed_at?: string | null; stop_reason?: { type?: string } | null; session_thread_id?: string };
    const make = (type: WebhookEventType, fields: Record<string, unknown> = {}): SessionWebhookEvent => ({ type, key: `${e.id}:${type}`, at: e.processed_at ?? new Date().toISOString(), fields });
    const thread = { session_thread_id: e.session_thread_id };
    switch (e.type) {
      case 'session.status_running':
        return [make('session.running'), make('session.status_run_started')];
      case 'session.status_idle': {
        const reason = e.stop_reason?.type;
        const also: WebhookEventType = reason === 'requires_action' ? 'session.requires_action' : reason === 'budget_reached' ? 'session.budget_reached' : 'session.idled';
        return [make('session.status_idled'), make(also)];
      }
      case 'session.status_rescheduled':
        return [make('session.status_rescheduled')];
      case 'session.status_terminated':
        return [make('session.status_terminated')];
      case 'session.thread_created':
        return [make('session.thread_created', thread)];
      case 'session.thread_status_idle':
        return [make('session.thread_idled', thread)];
      case 'session.thread_status_terminated':
        return [make('session.thread_terminated', thread)];
      case 'span.outcome_evaluation_end':
        return [make('session.outcome_evaluation_ended')];
      default:
        return [];
    }
  });
}
