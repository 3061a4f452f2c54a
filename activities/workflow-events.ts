import type { NewEvent, NewTranscriptItem } from '../src/store/session-store.ts';
import type { TranscriptItem } from '../src/core/transcript.ts';
import type { WorkflowEvent } from '../workflows/session-types.ts';

export function toNewEvents(events: readonly WorkflowEvent[]): NewEvent[] {
  return events.map(({ key, event }) => ({ key, event: event as NewEvent['event'] }));
}

/** User messages enter the transcript in the same transaction as their events. */
export function toTranscriptItems(events: readonly WorkflowEvent[]): NewTranscriptItem[] {
  return events.flatMap(({ key, transcript }) => (transcript ? [{ key, item: transcript as TranscriptItem }] : []));
}
