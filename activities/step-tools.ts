import { CancelledFailure, Context } from '@temporalio/activity';
import type { ToolUseRef } from '../workflows/contract.ts';
import { runTool, type RunToolDeps, type RunToolInput } from './run-tool.ts';
import type { SeenToolInputs } from './model/call-model.ts';

/**
 * What a model call needs to run its step's tool calls itself: everything of a tool call's
 * input but the call. Given by the workflow to `callModel`; absent in histories from before.
 */
export type StepToolsInput = Pick<RunToolInput, 'sessionId' | 'environment' | 'defaultTimeoutMs' | 'vaultIds' | 'threadId' | 'threadAgentName'>;

/** What the step's own activity ran: the calls whose results are recorded, and the attempt they ran in. */
export type StepToolsResult = { ranTools: string[]; toolAttempt: number };

/**
 * Whether the model call's own activity may run the step's tool calls: only when every call
 * is a built-in tool the policy allows. Anything that waits for the client, starts a thread,
 * or may go to an MCP server (whose calls are never retried) stays with the workflow, which
 * orders those around approvals and the client's answers.
 */
export function runsInStep(refs: readonly ToolUseRef[]): boolean {
  return refs.length > 0 && refs.every((ref) => ref.kind === 'builtin' && ref.permission === 'allow');
}

/**
 * Runs the step's tool calls inside the model call's activity: one activity and one workflow
 * task per step instead of two of each. Every call is `runTool` as its own activity would run
 * it (result and transcript in one transaction, the sandbox's journal re-attaching a call a
 * crashed attempt started), so exactly-once holds the same way. A call that fails here is
 * not retried here: it is left to the workflow, which runs it as its own activity with the
 * tool's retry policy, counting this attempt (`toolAttempt`) as its first.
 */
export async function runToolsInStep(deps: RunToolDeps, tools: StepToolsInput, refs: readonly ToolUseRef[], seen?: SeenToolInputs): Promise<StepToolsResult> {
  const ctx = Context.current();
  const settled = await Promise.allSettled(refs.map((ref) => runTool(deps, { ...tools, toolUseId: ref.toolUseId, eventId: ref.eventId, name: ref.name }, seen?.get(ref.toolUseId))));
  const ranTools: string[] = [];
  settled.forEach((outcome, index) => {
    const ref = refs[index]!;
    // An interrupted call recorded its result ("interrupted") before it said so.
    if (outcome.status === 'fulfilled' || outcome.reason instanceof CancelledFailure) ranTools.push(ref.toolUseId);
    else ctx.log.warn('tool call left to its own activity', { toolUseId: ref.toolUseId, error: String(outcome.reason) });
  });
  // Even when interrupted, the step completes rather than cancels: the model's answer is
  // recorded, so the workflow must not hand the events that led to it to another turn (what it
  // does for a model call cancelled before it answered). It sees the interrupt and stops there.
  return { ranTools, toolAttempt: ctx.info.attempt };
}
