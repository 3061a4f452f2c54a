import { sumUsage, type Usage } from '../core/usage.ts';
import type { Session, SessionStatus } from '../schemas/api-session.ts';
import type { SessionStore } from '../store/session-store.ts';

const STATUS_OF_EVENT: Record<string, SessionStatus> = {
  'session.status_running': 'running',
  'session.status_idle': 'idle',
  'session.status_rescheduled': 'rescheduling',
  'session.status_terminated': 'terminated',
};

export type SessionState = { status: SessionStatus; usage: Session['usage'] };

/**
 * Status and usage as the event log tells them: the last status event, the
 * latest `session.usage` totals (or, for sessions from before those existed,
 * the sum of every model request), and the time between each
 * `status_running` and the status that ended it. Reading the log, not the
 * workflow, keeps retrieve and list answering while no worker runs.
 */
export async function sessionStateOf(
  store: SessionStore,
  sessionId: string,
  { fallback = 'idle', now = Date.now(), turnRequestedAfterSeq }: { fallback?: SessionStatus; now?: number; turnRequestedAfterSeq?: number | undefined } = {},
): Promise<SessionState> {
  const statuses = await store.listEvents(sessionId, { limit: 1_000_000, types: Object.keys(STATUS_OF_EVENT) });
  let activeMs = 0;
  let runningSince: number | undefined;
  for (const { event } of statuses) {
    const at = Date.parse(event.processed_at ?? '') || now;
    if (event.type === 'session.status_running') runningSince ??= at;
    else if (runningSince !== undefined && event.type !== 'session.status_rescheduled') {
      activeMs += at - runningSince;
      runningSince = undefined;
    }
  }
  if (runningSince !== undefined) activeMs += Math.max(0, now - runningSince);
  const last = statuses.at(-1);
  let status = (last && STATUS_OF_EVENT[last.event.type]) ?? fallback;
  // Work was handed to the idle session and it has not recorded a status since: it is about to run.
  if (status === 'idle' && turnRequestedAfterSeq !== undefined && (last?.seq ?? 0) <= turnRequestedAfterSeq) status = 'running';
  return { status, usage: { ...(await usageOf(store, sessionId)), active_seconds: Math.round(activeMs) / 1000 } };
}

/** The session's token totals and list cost: the latest `session.usage`, else the sum of its model requests. */
export async function usageOf(store: SessionStore, sessionId: string): Promise<Omit<Session['usage'], 'active_seconds'>> {
  const [latest] = await store.listEvents(sessionId, { order: 'desc', limit: 1, types: ['session.usage'] });
  if (latest?.event.type === 'session.usage') {
    const u = latest.event.usage;
    return {
      input_tokens: u.input_tokens ?? 0,
      output_tokens: u.output_tokens ?? 0,
      cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
      cache_creation: { ephemeral_5m_input_tokens: u.cache_creation?.ephemeral_5m_input_tokens ?? 0 },
      list_cost: u.list_cost ? { amount: u.list_cost.amount, currency: 'USD' } : null,
    };
  }
  const ends = await store.listEvents(sessionId, { limit: 1_000_000, types: ['span.model_request_end'] });
  return apiUsage(sumUsage(ends.flatMap(({ event }) => (event.type === 'span.model_request_end' ? [event.model_usage] : []))), null);
}

/** Token totals in the API's shape (`Session.usage` without `active_seconds`). */
export function apiUsage(usage: Usage, listCost: { amount: string; currency: 'USD' } | null): Omit<Session['usage'], 'active_seconds'> {
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    cache_creation: { ephemeral_5m_input_tokens: usage.cache_creation_input_tokens },
    list_cost: listCost,
  };
}
