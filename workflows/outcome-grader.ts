import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { SessionActivities } from '../activities/session-activities.ts';
import { gradeSignal, type GradeRequest, type GradeResult, type GraderInput } from './contract.ts';

/**
 * One evaluation cycle of an outcome, as a child of its session. It starts with the
 * agent's turn and waits for `gradeSignal` (the turn's end), then the grader's model
 * requests run in an activity of their own, in a context of their own (the task, the
 * rubric, what the agent reported, read-only access to the workspace; never the agent's
 * transcript or reasoning). A crashed worker's grading moves to another worker within
 * the heartbeat timeout; a cancelled turn cancels its grader.
 */
export async function outcomeGraderWorkflow(input: GraderInput): Promise<GradeResult> {
  let request: GradeRequest | undefined;
  setHandler(gradeSignal, (asked) => {
    request ??= asked;
  });
  await condition(() => request !== undefined);
  const { gradeOutcome } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: input.heartbeatTimeoutMs ?? 30_000,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 8 },
  });
  return gradeOutcome({ ...input, ...request! });
}
