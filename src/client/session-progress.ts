import type { SessionStore } from '../store/session-store.ts';

/** Where a session that was given one piece of work stands. */
export type SessionProgress = 'working' | 'succeeded' | 'failed';

const STATUS_EVENTS = ['session.status_idle', 'session.status_terminated', 'session.status_running', 'session.status_rescheduled'];

/**
 * Whether a session given one task (a deployment run's, a dream's) is still at it, from
 * its last status event: idle at the end of its turn has succeeded; idle for any other
 * reason (retries exhausted, budget, refusal) or terminated has failed. Waiting on the
 * client (`requires_action`) is still working.
 */
export async function sessionProgress(store: Pick<SessionStore, 'listEvents'>, sessionId: string): Promise<SessionProgress> {
  const [last] = await store.listEvents(sessionId, { order: 'desc', limit: 1, types: STATUS_EVENTS });
  if (!last) return 'working';
  if (last.event.type === 'session.status_terminated') return 'failed';
  if (last.event.type !== 'session.status_idle') return 'working';
  const stopReason = (last.event as { stop_reason?: { type?: string } }).stop_reason?.type;
  if (stopReason === 'requires_action') return 'working';
  return stopReason === 'end_turn' ? 'succeeded' : 'failed';
}
