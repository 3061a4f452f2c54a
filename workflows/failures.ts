import { ApplicationFailure } from '@temporalio/workflow';

/** What went wrong in an activity that failed for good: its cause's message, not the wrapper's. */
export function failureMessage(err: unknown): string {
  return (err as { cause?: { message?: string } }).cause?.message ?? String(err);
}

/** Failure types of a model call that ended its turn: callModel has recorded the `session.error`. */
const MODEL_FAILURES = new Set(['ModelRequestInvalid', 'ModelRequestFailed', 'CompactionLimitReached']);

/** A model call that failed for good, or whose context could not be compacted to fit (callModel has recorded the `session.error`). */
export function isModelFailure(err: unknown): boolean {
  // Branch on failure types, never on instanceof of activity error classes.
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof ApplicationFailure && MODEL_FAILURES.has(cause.type ?? '');
}
