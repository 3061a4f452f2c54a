import { proxyActivities } from '@temporalio/workflow';
import type { SessionActivities } from '../activities/session-activities.ts';
import type { GradeResult, GraderInput } from './contract.ts';

/**
 * One evaluation cycle of an outcome, as a child of its session: the grader's model
 * requests run in an activity of their own, in a context of their own (the task, the
 * rubric and what the agent produced; never the agent's transcript or reasoning). A
 * crashed worker's grading moves to another worker within the heartbeat timeout.
 */
export async function outcomeGraderWorkflow(input: GraderInput): Promise<GradeResult> {
  const { gradeOutcome } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: input.heartbeatTimeoutMs ?? 30_000,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 8 },
  });
  return gradeOutcome(input);
}
