import { CancellationScope, ChildWorkflowCancellationType, ParentClosePolicy, isCancellation, startChild, workflowInfo, type ChildWorkflowHandle } from '@temporalio/workflow';
import { apiBudgetOf } from '../src/core/budget.ts';
import { modelId } from '../src/core/model-id.ts';
import { addUsage, usageSnapshot, zeroUsage } from '../src/core/usage.ts';
import { gradeSignal, OUTCOME_GRADER_WORKFLOW, type GradeResult, type OpenOutcome, type WorkflowEvent } from './contract.ts';
import { failureMessage } from './failures.ts';
import type { outcomeGraderWorkflow } from './outcome-grader.ts';
import type { SessionLoop } from './session-loop.ts';

/** An evaluation cycle in flight, so an interrupt can close it as `interrupted`. */
export type Grading = { outcome: OpenOutcome; start: WorkflowEvent };

/** A grader child started with its turn, waiting for the turn to end to grade it. */
export type PendingGrader = { outcome: OpenOutcome; scope: CancellationScope; started: Promise<ChildWorkflowHandle<typeof outcomeGraderWorkflow>> };

/**
 * Starts the grader of the open outcome's next cycle as the turn starts, so that when
 * the turn ends only a signal stands between it and the grader's first request (a new
 * child's first workflow task costs tens of milliseconds). Undefined when no outcome is open.
 */
export function startGrader(loop: SessionLoop): PendingGrader | undefined {
  const { state, sessionId } = loop;
  const outcome = state.outcome;
  if (!outcome) return undefined;
  // Inside the turn's scope: an interrupt or the end of the session cancels it too.
  const scope = new CancellationScope();
  const started = scope.run(() =>
    startChild<typeof outcomeGraderWorkflow>(OUTCOME_GRADER_WORKFLOW, {
      // Unique per turn: a grader cancelled with its turn leaves its id to no one.
      workflowId: `${sessionId}:outcome:${outcome.id}:${outcome.iteration}:${state.callCounter}`,
      taskQueue: workflowInfo().taskQueue,
      args: [{ sessionId, storeId: loop.input.storeId, outcome, model: agentModel(loop), heartbeatTimeoutMs: loop.tuning.modelHeartbeatTimeoutMs, environment: loop.input.environment, ...loop.vaults() }],
      // Cancelled, it stops before the parent goes on: no grader outlives its cycle.
      cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
      parentClosePolicy: ParentClosePolicy.TERMINATE,
    }),
  );
  started.catch(() => undefined);
  return { outcome, scope, started };
}

/** Cancels a grader whose turn did not end in grading (a budget stop, a model failure). */
export function dropGrader(grader: PendingGrader | undefined): void {
  grader?.scope.cancel();
}

/**
 * After a turn that ended while an outcome is open: the grader child workflow checks the
 * work in a context of its own, and its verdict decides what happens next.
 * `needs_revision` gives the agent the grader's feedback as its next turn;
 * `max_iterations_reached` (a revision the outcome has no cycles left for) gives it one
 * closing turn; `satisfied` and `failed` end the outcome. Returns the events to record
 * before going on, and whether the agent works again.
 */
export async function evaluateOutcome(loop: SessionLoop, leading: WorkflowEvent[], grader: PendingGrader): Promise<{ leading: WorkflowEvent[]; agentAgain: boolean }> {
  const { state, sessionId } = loop;
  const outcome = grader.outcome;
  const start = loop.event('span.outcome_evaluation_start', { outcome_id: outcome.id, iteration: outcome.iteration });
  loop.grading = { outcome, start };
  let verdict: GradeResult;
  try {
    const child = await grader.started;
    // The grader records these first: the turn's last input and the cycle's start, one hop sooner than an activity of their own.
    await child.signal(gradeSignal, { leading: [...leading, start], reportKey: `assistant:call:${state.callCounter - 1}` });
    verdict = await child.result();
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The grader could not run at all (its model unreachable through every retry): the outcome fails, the session goes on.
    verdict = { result: 'failed', explanation: `The grader could not evaluate the work: ${failureMessage(err)}`, usage: zeroUsage(), costNanos: 0 };
    // What the grader may not have recorded (recording is idempotent by key).
    await loop.activities.emitEvents({ sessionId, events: [...leading, start] });
  }
  loop.grading = undefined;
  addUsage(state.usage, verdict.usage);
  state.costNanos = (state.costNanos ?? 0) + verdict.costNanos;

  const lastCycle = outcome.iteration + 1 >= outcome.maxIterations;
  const result = verdict.result === 'needs_revision' && lastCycle ? 'max_iterations_reached' : verdict.result;
  const end: WorkflowEvent = {
    ...loop.event('span.outcome_evaluation_end', {
      outcome_id: outcome.id,
      iteration: outcome.iteration,
      result,
      explanation: verdict.explanation,
      usage: verdict.usage,
    }),
    idsOf: { outcome_evaluation_start_id: start.key },
  };
  const events = [end, usageEvent(loop)];
  if (result === 'needs_revision') {
    state.outcome = { ...outcome, iteration: outcome.iteration + 1 };
    end.transcript = feedback(`The grader checked your work against the rubric and it needs revision:\n\n${verdict.explanation}\n\nRevise your work to meet every criterion, then finish.`);
    return { leading: events, agentAgain: true };
  }
  state.outcome = undefined;
  if (result === 'max_iterations_reached') {
    end.transcript = feedback(
      `The grader checked your work against the rubric one last time and it still needs revision:\n\n${verdict.explanation}\n\nNo further evaluation follows. Wrap up: say briefly what is done and what is not.`,
    );
    return { leading: events, agentAgain: true };
  }
  return { leading: events, agentAgain: false };
}

/**
 * The end of a cycle an interrupt stopped: the outcome is over, `interrupted`. What the
 * grader's requests were billed until then still counts in the session's usage.
 */
export async function interruptedEvaluation(loop: SessionLoop): Promise<WorkflowEvent[]> {
  const grading = loop.grading;
  if (!grading) return [];
  loop.grading = undefined;
  loop.state.outcome = undefined;
  const { outcome } = grading;
  const billed = await loop.activities.gradingUsage({ sessionId: loop.sessionId, outcome, model: agentModel(loop) });
  addUsage(loop.state.usage, billed.usage);
  loop.state.costNanos = (loop.state.costNanos ?? 0) + billed.costNanos;
  // The start, in case the grader was stopped before it recorded it (recording is idempotent by key).
  return [
    grading.start,
    {
      ...loop.event('span.outcome_evaluation_end', {
        outcome_id: outcome.id,
        iteration: outcome.iteration,
        result: 'interrupted',
        explanation: 'The user interrupted the session while the grader was evaluating.',
        usage: billed.usage,
      }),
      idsOf: { outcome_evaluation_start_id: grading.start.key },
    },
    usageEvent(loop),
  ];
}

function feedback(text: string): WorkflowEvent['transcript'] {
  return { kind: 'user', content: [{ type: 'text', text }] };
}

/** The grader uses the agent's model (a worker may set another: `LONGHAUL_GRADER_MODEL`). */
function agentModel(loop: SessionLoop): string {
  return modelId(loop.input.agent.model);
}

/** The session's totals after the grader's requests, as `session.usage` reports them. */
function usageEvent(loop: SessionLoop): WorkflowEvent {
  const { usage, costNanos, budget } = loop.state;
  return loop.event('session.usage', { usage: usageSnapshot(usage, costNanos ?? 0), budget: apiBudgetOf(budget ?? null) });
}
