import { ApplicationFailure } from '@temporalio/workflow';

/** What went wrong in an activity that failed for good: its cause's message, not the wrapper's. */
export function failureMessage(err: unknown): string {
  return (err as { cause?: { message?: string } }).cause?.message ?? String(err);
}

/** A model call that failed for good (callModel has recorded the `session.error`). */
export function isModelFailure(err: unknown): boolean {
  // Branch on failure types, never on instanceof of activity error classes.
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof ApplicationFailure && (cause.type === 'ModelRequestInvalid' || cause.type === 'ModelRequestFailed');
}
