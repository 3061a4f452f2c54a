import { resolveContentRefs } from '../src/store/content-refs.ts';
import type { NewEvent, NewTranscriptItem, SessionStore } from '../src/store/session-store.ts';
import type { TranscriptItem } from '../src/core/transcript.ts';
import type { WorkflowEvent } from '../workflows/contract.ts';

export function toNewEvents(events: readonly WorkflowEvent[]): NewEvent[] {
  return events.map(({ key, event }) => ({ key, event: event as NewEvent['event'] }));
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
  const resolved = await resolveContentRefs(store, sessionId, events);
  await store.append(sessionId, toNewEvents(resolved), toTranscriptItems(resolved));
}
