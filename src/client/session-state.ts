import { formatCents } from '../core/budget.ts';
import { sumUsage, type Usage } from '../core/usage.ts';
import type { Session, SessionStatus } from '../schemas/api-session.ts';
import type { SessionStore, StoredEvent } from '../store/session-store.ts';

const STATUS_OF_EVENT: Record<string, SessionStatus> = {
  'session.status_running': 'running',
  'session.status_idle': 'idle',
  'session.status_rescheduled': 'rescheduling',
  'session.status_terminated': 'terminated',
};

export type SessionState = { status: SessionStatus; usage: Session['usage']; outcome_evaluations: Session['outcome_evaluations'] };

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
  const activeMs = activeMillis(statuses, { running: 'session.status_running', rescheduled: 'session.status_rescheduled', now });
  return {
    status: statusAfter(statuses.at(-1), { fallback, turnRequestedAfterSeq }),
    usage: { ...(await usageOf(store, sessionId)), active_seconds: Math.round(activeMs) / 1000 },
    outcome_evaluations: await outcomeEvaluationsOf(store, sessionId),
  };
}

/** The status alone, as `sessionStateOf` gives it: one statement (the last status event) where the whole state takes several. */
export async function sessionStatusOf(
  store: SessionStore,
  sessionId: string,
  { fallback = 'idle', turnRequestedAfterSeq }: { fallback?: SessionStatus; turnRequestedAfterSeq?: number | undefined } = {},
): Promise<SessionStatus> {
  const [last] = await store.listEvents(sessionId, { order: 'desc', limit: 1, types: Object.keys(STATUS_OF_EVENT) });
  return statusAfter(last, { fallback, turnRequestedAfterSeq });
}

function statusAfter(last: StoredEvent | undefined, { fallback, turnRequestedAfterSeq }: { fallback: SessionStatus; turnRequestedAfterSeq: number | undefined }): SessionStatus {
  const status = (last && STATUS_OF_EVENT[last.event.type]) ?? fallback;
  // Work was handed to the idle session and it has not recorded a status since: it is about to run.
  return status === 'idle' && turnRequestedAfterSeq !== undefined && (last?.seq ?? 0) <= turnRequestedAfterSeq ? 'running' : status;
}

/** Time spent running, from status events: each running status until the status that ended it (a reschedule does not), the last up to `now`. */
export function activeMillis(statuses: readonly StoredEvent[], { running, rescheduled, now }: { running: string; rescheduled: string; now: number }): number {
  let activeMs = 0;
  let runningSince: number | undefined;
  for (const { event } of statuses) {
    const at = Date.parse(event.processed_at ?? '') || now;
    if (event.type === running) runningSince ??= at;
    else if (runningSince !== undefined && event.type !== rescheduled) {
      activeMs += at - runningSince;
      runningSince = undefined;
    }
  }
  return runningSince === undefined ? activeMs : activeMs + Math.max(0, now - runningSince);
}

/**
 * The session's token totals and list cost: a multi-agent session's, the sum of what each
 * of its logs spent; else the latest `session.usage`, else the sum of its model requests.
 */
export async function usageOf(store: SessionStore, sessionId: string): Promise<Omit<Session['usage'], 'active_seconds'>> {
  const spent = await store.threads.spent(sessionId);
  if (spent.logs > 0) return apiUsage(spent.usage, { amount: formatCents(spent.costNanos), currency: 'USD' });
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

const OUTCOME_EVENTS = ['user.define_outcome', 'span.outcome_evaluation_start', 'span.outcome_evaluation_end', 'session.status_idle', 'session.status_running'];

/**
 * Every outcome of the session and where it stands, from its log: `pending` until the
 * agent takes it up, `running` while the agent works (or revises), `evaluating` while
 * the grader scores, then the verdict that ended it.
 */
export async function outcomeEvaluationsOf(store: SessionStore, sessionId: string): Promise<Session['outcome_evaluations']> {
  const rows = await store.listEvents(sessionId, { limit: 1_000_000, types: OUTCOME_EVENTS });
  const outcomes = new Map<string, Session['outcome_evaluations'][number]>();
  for (const { event } of rows) {
    if (event.type === 'user.define_outcome') {
      outcomes.set(event.outcome_id, { type: 'outcome_evaluation', outcome_id: event.outcome_id, description: event.description, iteration: 0, result: 'running', explanation: null, completed_at: null });
      continue;
    }
    if (event.type !== 'span.outcome_evaluation_start' && event.type !== 'span.outcome_evaluation_end') continue;
    const outcome = outcomes.get(event.outcome_id);
    if (!outcome) continue;
    outcome.iteration = event.iteration;
    if (event.type === 'span.outcome_evaluation_start') {
      outcome.result = 'evaluating';
    } else {
      outcome.explanation = event.explanation;
      if (event.result === 'needs_revision') {
        outcome.result = 'running';
        outcome.iteration = event.iteration + 1;
      } else {
        outcome.result = event.result;
        outcome.completed_at = event.processed_at;
      }
    }
  }
  return [...outcomes.values()];
}
