import type { Session, SessionStatus } from '../schemas/api-session.ts';
import type { SessionRecord } from '../store/session-index-store.ts';
import type { SessionStore } from '../store/session-store.ts';

const STATUS_OF_EVENT: Record<string, SessionStatus> = {
  'session.status_running': 'running',
  'session.status_idle': 'idle',
  'session.status_rescheduled': 'rescheduling',
  'session.status_terminated': 'terminated',
};

export type SessionState = { status: SessionStatus; usage: Session['usage'] };

/**
 * Status and usage as the event log tells them: the last status event, and the
 * sum of every model request's usage. Reading the log, not the workflow, keeps
 * retrieve and list answering while no worker runs.
 */
export async function sessionStateOf(store: SessionStore, sessionId: string, { fallback = 'idle' }: { fallback?: SessionStatus } = {}): Promise<SessionState> {
  const [last] = await store.listEvents(sessionId, { order: 'desc', limit: 1, types: Object.keys(STATUS_OF_EVENT) });
  const usage = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 0 } };
  for (const { event } of await store.listEvents(sessionId, { limit: 1_000_000, types: ['span.model_request_end'] })) {
    if (event.type !== 'span.model_request_end') continue;
    usage.input_tokens += event.model_usage.input_tokens;
    usage.output_tokens += event.model_usage.output_tokens;
    usage.cache_read_input_tokens += event.model_usage.cache_read_input_tokens;
    usage.cache_creation.ephemeral_5m_input_tokens += event.model_usage.cache_creation_input_tokens;
  }
  return { status: (last && STATUS_OF_EVENT[last.event.type]) ?? fallback, usage };
}

/** The `Session` object of the API. */
export function sessionObject(record: SessionRecord, state: SessionState, now = Date.now()): Session {
  const end = record.archived_at ?? new Date(now).toISOString();
  return {
    type: 'session',
    id: record.id,
    agent: record.agent,
    environment_id: record.environment_id,
    status: record.archived_at !== null ? 'terminated' : state.status,
    title: record.title,
    metadata: record.metadata,
    resources: [],
    vault_ids: [],
    budget: null,
    outcome_evaluations: [],
    stats: { duration_seconds: Math.max(0, (Date.parse(end) - Date.parse(record.created_at)) / 1000) },
    usage: state.usage,
    deployment_id: null,
    created_at: record.created_at,
    updated_at: record.updated_at,
    archived_at: record.archived_at,
  };
}
