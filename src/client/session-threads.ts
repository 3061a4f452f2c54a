import { deterministicId } from '../store/ids.ts';
import type { SessionRecord } from '../store/session-records.ts';
import type { SessionStore } from '../store/session-store.ts';
import type { StoredThread } from '../store/session-threads.ts';
import { activeMillis, sessionStateOf, usageOf, type SessionState } from './session-state.ts';

export type ThreadStatus = 'running' | 'idle' | 'rescheduling' | 'terminated';

/** A thread as the API shows it (`BetaManagedAgentsSessionThread`). */
export type ThreadView = {
  type: 'session_thread';
  id: string;
  session_id: string;
  parent_thread_id: string | null;
  agent: Record<string, unknown>;
  status: ThreadStatus;
  stats: { active_seconds: number; duration_seconds: number; startup_seconds: number } | null;
  usage: (SessionState['usage'] & { active_seconds: number }) | null;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
  workflow_run_id: null;
};

/** The primary thread's id: derived from the session's, so every session has one without storing it. */
export function primaryThreadIdOf(sessionId: string): string {
  return deterministicId('sthr', sessionId, 'primary');
}

const THREAD_STATUS_OF_EVENT: Record<string, ThreadStatus> = {
  'session.thread_status_running': 'running',
  'session.thread_status_idle': 'idle',
  'session.thread_status_rescheduled': 'rescheduling',
  'session.thread_status_terminated': 'terminated',
};

/** The primary thread: the session itself, seen as a thread. */
export async function primaryThreadView(store: SessionStore, record: SessionRecord): Promise<ThreadView> {
  const state = await sessionStateOf(store, record.id, { turnRequestedAfterSeq: record.turn_requested_after_seq });
  const { multiagent: _roster, ...agent } = (record.agent ?? { type: 'agent', ...record.definition.agent }) as Record<string, unknown>;
  return {
    type: 'session_thread',
    id: primaryThreadIdOf(record.id),
    session_id: record.id,
    parent_thread_id: null,
    agent,
    status: record.archived_at !== null ? 'terminated' : state.status,
    stats: { active_seconds: state.usage.active_seconds ?? 0, duration_seconds: secondsSince(record.created_at), startup_seconds: 0 },
    usage: state.usage as ThreadView['usage'],
    created_at: record.created_at,
    updated_at: record.updated_at,
    archived_at: record.archived_at,
    workflow_run_id: null,
  };
}

/** A thread the session started: its record, and its status, time and usage from its own log. */
export async function childThreadView(store: SessionStore, record: SessionRecord, thread: StoredThread): Promise<ThreadView> {
  const statuses = await store.listEvents(thread.id, { limit: 1_000_000, types: Object.keys(THREAD_STATUS_OF_EVENT) });
  const activeMs = activeMillis(statuses, { running: 'session.thread_status_running', rescheduled: 'session.thread_status_rescheduled', now: Date.now() });
  const last = statuses.at(-1);
  const status = (last && THREAD_STATUS_OF_EVENT[last.event.type]) ?? 'running';
  const updatedAt = last?.event.processed_at ?? thread.createdAt;
  const idledOnce = statuses.some(({ event }) => event.type !== 'session.thread_status_running');
  const activeSeconds = Math.round(activeMs) / 1000;
  const end = thread.archivedAt ?? (status === 'terminated' ? updatedAt : undefined);
  return {
    type: 'session_thread',
    id: thread.id,
    session_id: thread.sessionId,
    parent_thread_id: thread.parentThreadId,
    agent: rosterSnapshot(record, thread),
    status: thread.archivedAt !== null ? 'terminated' : status,
    stats: statuses.length === 0 ? null : { active_seconds: activeSeconds, duration_seconds: secondsSince(thread.createdAt, end), startup_seconds: 0 },
    usage: idledOnce ? { ...(await usageOf(store, thread.id)), active_seconds: activeSeconds } : null,
    created_at: thread.createdAt,
    updated_at: thread.archivedAt ?? updatedAt,
    archived_at: thread.archivedAt,
    workflow_run_id: null,
  };
}

/**
 * The thread's agent as the session pinned it (`SessionThreadAgent`): found in the
 * session's roster snapshot by id and version; a session without one (a library session)
 * gets what its definition says.
 */
function rosterSnapshot(record: SessionRecord, thread: StoredThread): Record<string, unknown> {
  const found = findAgentSnapshot(record.agent?.multiagent, thread.agentId, thread.agentVersion);
  if (found) return found;
  const member = record.definition.agent.roster?.find((m) => m.agent_id === thread.agentId && m.version === thread.agentVersion);
  return { type: 'agent', id: thread.agentId, version: thread.agentVersion, description: member?.description ?? null, ...(member?.definition ?? { name: thread.agentName }) };
}

function findAgentSnapshot(value: unknown, id: string, version: number): Record<string, unknown> | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findAgentSnapshot(item, id, version);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const object = value as Record<string, unknown>;
  if (object['type'] === 'agent' && object['id'] === id && object['version'] === version && 'name' in object) return object;
  for (const child of Object.values(object)) {
    const found = findAgentSnapshot(child, id, version);
    if (found) return found;
  }
  return undefined;
}

function secondsSince(start: string, end?: string): number {
  const to = end ? Date.parse(end) : Date.now();
  return Math.max(0, Math.round(to - Date.parse(start)) / 1000);
}
