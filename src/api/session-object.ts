import type { Session } from '../schemas/api-session.ts';
import { NotFoundError } from '../errors.ts';
import { isApiSession, type ApiSessionRecord, type SessionRecord } from '../store/session-records.ts';
import type { SessionState } from '../client/session-state.ts';

/** The `Session` object of the API. */
export function sessionObject(record: ApiSessionRecord, state: SessionState, { now = Date.now(), resources = [] }: { now?: number; resources?: Session['resources'] } = {}): Session {
  const end = record.archived_at ?? new Date(now).toISOString();
  return {
    type: 'session',
    id: record.id,
    agent: record.agent,
    environment_id: record.environment_id,
    status: record.archived_at !== null ? 'terminated' : state.status,
    title: record.title,
    metadata: record.metadata,
    resources,
    vault_ids: record.vault_ids ?? [],
    budget: record.budget ?? null,
    outcome_evaluations: [],
    stats: { duration_seconds: Math.max(0, (Date.parse(end) - Date.parse(record.created_at)) / 1000), active_seconds: state.usage.active_seconds },
    usage: state.usage,
    deployment_id: null,
    created_at: record.created_at,
    updated_at: record.updated_at,
    archived_at: record.archived_at,
  };
}

/** The session as an API client sees it: only sessions made through the API exist here. */
export function apiSessionOf<T extends SessionRecord>(session: T): T & ApiSessionRecord {
  if (!isApiSession(session)) throw new NotFoundError(`session ${session.id} not found`);
  return session;
}
