import { ApplicationFailure, CancellationScope, continueAsNew, isCancellation, proxyActivities, sleep } from '@temporalio/workflow';
import type { DreamActivities, DreamEnd } from '../activities/dream-activities.ts';
import type { DreamWorkflowInput } from './contract.ts';
import { failureMessage } from './failures.ts';

/** Checks of the dream's session: from 0.5 s, doubling, to at most 5 s apart. */
const FIRST_CHECK_MS = 500;
const LAST_CHECK_MS = 5_000;
/** Checks per workflow run before continuing as new, so a long dream keeps a short history. */
const CHECKS_PER_RUN = 500;
/** A dream still working after this long fails with `timeout`. */
const MAX_DREAM_MS = 6 * 60 * 60 * 1000;

const { beginDream, dreamProgress, finishDream } = proxyActivities<DreamActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20, nonRetryableErrorTypes: ['DreamInvalid', 'DreamInputMissing'] },
});

type DreamState = DreamWorkflowInput & { sessionId?: string; waitedMs?: number; checks?: number };

/**
 * One dream: makes its output store and its session, then checks the session until it
 * finishes its task (completed) or stops otherwise (failed), or the dream is canceled
 * (the workflow is: a timer, not an activity, is what it waits on, so a cancel ends it
 * at once). However it ends, the dream's record says so and its session is stopped.
 */
export async function dreamWorkflow(input: DreamState): Promise<void> {
  const { dreamId } = input;
  let sessionId = input.sessionId ?? null;
  let end: DreamEnd;
  try {
    if (sessionId === null) {
      const begun = await beginDream({ dreamId });
      if (begun === null) return;
      sessionId = begun.sessionId;
    }
    end = await watch(dreamId, sessionId, input);
  } catch (error) {
    if (isCancellation(error)) {
      await CancellationScope.nonCancellable(() => finishDream({ dreamId, end: { status: 'canceled' } }));
      throw error;
    }
    // Branch on failure types, never on instanceof of activity error classes.
    const cause = (error as { cause?: unknown }).cause;
    const missing = cause instanceof ApplicationFailure && cause.type === 'DreamInputMissing';
    end = { status: 'failed', error: { type: missing ? 'not_found_error' : 'internal_error', message: failureMessage(error) } };
  }
  await finishDream({ dreamId, end });
}

async function watch(dreamId: string, sessionId: string, input: DreamState): Promise<DreamEnd> {
  const checksSoFar = input.checks ?? 0;
  // Time is counted in the waits between checks: the workflow reads no clock.
  let waitedMs = input.waitedMs ?? 0;
  let wait = Math.min(LAST_CHECK_MS, FIRST_CHECK_MS * 2 ** checksSoFar);
  for (let check = 0; check < CHECKS_PER_RUN; check++) {
    const progress = await dreamProgress({ dreamId, sessionId });
    if (progress === 'succeeded') return { status: 'completed' };
    if (progress === 'failed') return { status: 'failed', error: { type: 'session_failed', message: `the dream's session ${sessionId} stopped before it finished; its events say why` } };
    if (waitedMs > MAX_DREAM_MS) return { status: 'failed', error: { type: 'timeout', message: `the dream was still working after ${MAX_DREAM_MS / 3_600_000} hours` } };
    await sleep(wait);
    waitedMs += wait;
    wait = Math.min(LAST_CHECK_MS, wait * 2);
  }
  return continueAsNew<typeof dreamWorkflow>({ ...input, sessionId, waitedMs, checks: checksSoFar + CHECKS_PER_RUN });
}
