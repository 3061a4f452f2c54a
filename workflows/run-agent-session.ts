/**
 * Longhaul for workflow code: run an agent session as a step of your own workflow.
 * Import it as `longhaul/workflow`; the worker needs `LonghaulPlugin`.
 */
import { executeChild, proxyActivities } from '@temporalio/workflow';
import type { StepSessionActivities, StepSessionParams } from '../activities/step-session-activities.ts';
import { SESSION_WORKFLOW, STEP_SESSION_INVALID, type SessionResult } from './contract.ts';
import type { sessionWorkflow } from './session.ts';

export type { SessionResult, StepSessionParams };

export type RunAgentSessionOptions = StepSessionParams & {
  /** Task queue of the session's activity and workflow. Default: the calling workflow's (its worker has the plugin). */
  taskQueue?: string;
};

/**
 * Runs an agent session to the end of its first turn, as a step of the calling workflow,
 * and returns how it ended and what the agent said. The session is an ordinary Longhaul
 * session (a child workflow whose id is the session id): its events are in the store,
 * `Longhaul` and the API read them, and it can be interrupted or answered there (a tool
 * call waiting for confirmation waits for that answer). When its turn ends it is terminated
 * (its sandbox released, its log kept) and its result is the step's. A session terminated
 * before its turn ended fails the step with a `SessionTerminated` failure.
 *
 * @example
 * import { runAgentSession } from 'longhaul/workflow';
 *
 * export async function triageWorkflow(issue: string): Promise<string> {
 *   const { text } = await runAgentSession({ agent: { model: 'claude-sonnet-5-5' }, task: `Triage: ${issue}` });
 *   return text;
 * }
 */
export async function runAgentSession({ taskQueue, ...params }: RunAgentSessionOptions): Promise<SessionResult> {
  const { createStepSession } = proxyActivities<StepSessionActivities>({
    // A few rows in the store.
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: [STEP_SESSION_INVALID] },
    ...(taskQueue !== undefined ? { taskQueue } : {}),
  });
  const input = await createStepSession(params);
  const result = await executeChild<typeof sessionWorkflow>(SESSION_WORKFLOW, {
    workflowId: input.sessionId,
    args: [input],
    ...(taskQueue !== undefined ? { taskQueue } : {}),
  });
  // Only a session started without `endAfterTurn` returns nothing; the activity always sets it.
  if (result === undefined) throw new Error(`session ${input.sessionId} returned no result`);
  return result;
}
