import { resolveContentRefs } from '../src/store/content-refs.ts';
import { eventIdOfKey, type NewEvent, type NewTranscriptItem, type SessionStore } from '../src/store/session-store.ts';
import type { TranscriptItem } from '../src/core/transcript.ts';
import type { WorkflowEvent } from '../workflows/contract.ts';

export function toNewEvents(sessionId: string, events: readonly WorkflowEvent[]): NewEvent[] {
  return events.map(({ key, event, idsOf }) => {
    const ids = Object.fromEntries(Object.entries(idsOf ?? {}).map(([field, eventKey]) => [field, eventIdOfKey(sessionId, eventKey)]));
    return { key, event: { ...event, ...ids } as NewEvent['event'] };
  });
}

/** User messages enter the transcript in the same transaction as their events. */
export function toTranscriptItems(events: readonly WorkflowEvent[]): NewTranscriptItem[] {
  return events.flatMap(({ key, transcript }) => (transcript ? [{ key, item: transcript as TranscriptItem }] : []));
}

/**
 * Records events the workflow made, in one transaction with their transcript items,
 * after swapping content references (large user content, kept in the store) for the
 * content itself.
 */
export async function appendWorkflowEvents(store: SessionStore, sessionId: string, events: readonly WorkflowEvent[]): Promise<void> {
  if (events.length === 0) return;
  // The writer's own log first, then the copies that go to others (a thread's events cross-posted to the session's).
  const byLog = new Map<string, WorkflowEvent[]>([[sessionId, []]]);
  for (const event of events) {
    const log = event.log ?? sessionId;
    byLog.set(log, [...(byLog.get(log) ?? []), event]);
  }
  for (const [log, logEvents] of byLog) {
    if (logEvents.length === 0) continue;
    const resolved = await resolveContentRefs(store, log, logEvents);
    await store.append(log, toNewEvents(log, resolved), toTranscriptItems(resolved));
  }
}
