import { CancelledFailure, Context } from '@temporalio/activity';
import { budgetReached } from '../../src/core/budget.ts';
import { sumUsage, zeroUsage } from '../../src/core/usage.ts';
import type { Usage } from '../../workflows/contract.ts';
import type { StepToolsInput, StepToolsResult } from '../step-tools.ts';
import type { CallModelInput, CallModelResult } from './call-model.ts';
import type { RunningCall } from './interruptible-calls.ts';

/** The steps a model call may take after its own, while nothing needs the workflow. */
export type FollowOn = {
  /** The keys of those steps, in order: the workflow hands them out, so no other call uses them. */
  callKeys: string[];
  /** No step starts once the call has run this long: the activity's timeout allows one more after it. */
  windowMs: number;
};

/** The `callModel` activity's input: a model call, the step's tools, and the steps it may go on to. */
export type StepsInput = CallModelInput & {
  tools?: StepToolsInput | undefined;
  followOn?: FollowOn | undefined;
  /** How many of the call's keys (its own, then `followOn`'s) an earlier activity may have used. */
  keysTriedBefore?: number | undefined;
};

/** What one step did: the model's answer and, when they ran in the step, its tool calls. */
export type StepResult = CallModelResult & Partial<StepToolsResult>;

/** A step the call took before its last: what the workflow counts of it. */
export type EarlierStep = { usage: Usage; costNanos: number; text?: string };

/** Set when the call was given `followOn`: the steps before the one it returns, and how many keys it may have used. */
export type StepsReport = {
  earlier: EarlierStep[];
  /** Keys from the call's own on that this activity (or an earlier attempt of it) may have used; the rest are free. */
  keysTouched: number;
};

/**
 * Runs a model call's step and, given `followOn`, the steps after it for as long as no one
 * else needs to act: every tool call of the step ran in it, and no interrupt, new input
 * (`RunningCall.yieldRequested`), budget or window stops it. One activity and one workflow
 * task then carry several steps, each recorded exactly as its own activity would record it
 * (keyed by its own call key, so a retry of this activity finds the steps it made).
 *
 * The activity returns its last step, with the ones before it in `steps.earlier`. A step after
 * the first that fails is not retried here: the steps before it are returned and the workflow
 * calls it again as the next activity's first (`keysTouched` tells it the key was tried), so
 * each call keeps its own retries. Cancelled after a step, it returns what it made, as
 * interrupted: the workflow counts those steps, then stops as for an interrupt.
 */
export async function runSteps(input: StepsInput, call: RunningCall, step: (input: CallModelInput & { tools?: StepToolsInput | undefined }) => Promise<StepResult>): Promise<StepResult & { steps?: StepsReport }> {
  const { followOn, keysTriedBefore = 0, ...first } = input;
  if (followOn === undefined) return step(keysTriedBefore > 0 ? { ...first, mayBeAnswered: true } : first);
  const ctx = Context.current();
  const keys = [input.callKey, ...followOn.callKeys];
  // A retry of this activity may find any of its steps made by an earlier attempt.
  const triedBefore = ctx.info.attempt > 1 ? keys.length : keysTriedBefore;
  const startedAt = performance.now();
  const done: StepResult[] = [];
  /** What the workflow counts of `earlier` (the steps before the one returned), and the keys this activity may have used (every one, on a retry). */
  const report = (earlier: readonly StepResult[], started: number): StepsReport => ({
    earlier: earlier.map(earlierStep),
    keysTouched: ctx.info.attempt > 1 ? keys.length : started,
  });
  let spent = input.spent;
  for (let index = 0; ; index++) {
    const callKey = keys[index]!;
    call.currentKey = callKey;
    let result: StepResult;
    try {
      result = await step({ ...first, callKey, leading: index === 0 ? first.leading : [], spent, ...(index < triedBefore ? { mayBeAnswered: true } : {}) });
    } catch (error) {
      if (index === 0) throw error;
      if (error instanceof CancelledFailure) {
        // The steps made stand; the workflow counts them, then stops as for an interrupt.
        return { stopReason: null, toolUses: [], usage: zeroUsage(), costNanos: 0, interrupted: true, steps: report(done, index + 1) };
      }
      ctx.log.warn('a later step of a model call failed; the workflow calls it again', { callKey, error: String(error) });
      return { ...done.at(-1)!, steps: report(done.slice(0, -1), index + 1) };
    }
    done.push(result);
    if (spent !== undefined) spent = { usage: sumUsage([spent.usage, result.usage]), costNanos: spent.costNanos + (result.costNanos ?? 0) };
    if (index === keys.length - 1 || !goesOn(result, call, { input, spent, elapsedMs: performance.now() - startedAt, windowMs: followOn.windowMs })) {
      return { ...result, steps: report(done.slice(0, -1), index + 1) };
    }
  }
}

/** Whether the call may take another step after `result`: only what the workflow would do next without waiting for anyone. */
function goesOn(result: StepResult, call: RunningCall, { input, spent, elapsedMs, windowMs }: { input: CallModelInput; spent: CallModelInput['spent']; elapsedMs: number; windowMs: number }): boolean {
  if (result.interrupted === true || result.budgetReached === true || call.interrupted.aborted || call.yieldRequested) return false;
  if (Context.current().cancellationSignal.aborted || elapsedMs >= windowMs) return false;
  const ran = new Set(result.ranTools ?? []);
  if (result.toolUses.length === 0 || !result.toolUses.every((ref) => ran.has(ref.toolUseId))) return false;
  // The workflow stops a turn that spent its budget before the next call; so does this.
  return !(spent !== undefined && budgetReached(input.budget, spent.costNanos));
}

function earlierStep({ usage, costNanos, text }: StepResult): EarlierStep {
  return { usage, costNanos: costNanos ?? 0, ...(text !== undefined ? { text } : {}) };
}
