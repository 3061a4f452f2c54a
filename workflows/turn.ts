import { CancelledFailure, condition, isCancellation, log, patched } from '@temporalio/workflow';
import { isSandboxToolCall } from '../src/core/agent-toolset.ts';
import { addUsage } from '../src/core/usage.ts';
import type { StopReason } from '../src/schemas/events.ts';
import { FOLLOW_ON_WINDOW_MS } from './activity-options.ts';
import type { InboundEvent, ToolUseRef, Usage, WorkflowEvent } from './contract.ts';
import { failureMessage } from './failures.ts';
import { drainInbox, requeue, resolutionEvent, takeAnswers } from './inbox.ts';
import { PATCHES } from './patches.ts';
import type { SessionLoop } from './session-loop.ts';
import { hasRunningThreads, runDelegations } from './threads.ts';

/** How a turn ended, and the events (drained input) to record with that. */
export type TurnEnd = { stopReason: StopReason; leading: WorkflowEvent[] };

/**
 * One turn: model and tools until the model stops asking for tools. Each step is one
 * model call, then its tool calls (allowed ones at once, the rest as the client answers).
 * Messages that arrive meanwhile join the next step; the turn ends at `end_turn`, a
 * refusal, the step limit or the budget.
 */
export async function runTurn(loop: SessionLoop, leadingEvents: WorkflowEvent[]): Promise<TurnEnd> {
  const { state, sessionId, tuning } = loop;
  let leading = leadingEvents;
  loop.unsent = leading;
  for (;;) {
    if (state.stepsInTurn >= tuning.maxStepsPerTurn) {
      return {
        stopReason: { type: 'retries_exhausted' },
        leading: [
          ...leading,
          loop.event('session.error', { error: { type: 'unknown_error', message: `turn stopped after ${tuning.maxStepsPerTurn} model requests`, retry_status: { type: 'exhausted' } } }),
        ],
      };
    }
    if (loop.overBudget()) {
      // Stop before spending more; raising the budget resumes from here.
      state.budgetHalted = true;
      return { stopReason: { type: 'budget_reached' }, leading };
    }
    // Files added during the turn are in place before the model next looks.
    if (loop.hasPendingMounts() && patched(PATCHES.mountFiles)) await loop.mountPending();
    const result = await callModel(loop, leading);
    // Steps the call took before its last (`stepsPerActivity`) count as the workflow's own.
    for (const step of result.steps?.earlier ?? []) countStep(loop, step);
    if ((result.steps?.earlier.length ?? 0) > 0) {
      // The first of them took the leading events: an interrupt now has none to give back.
      leading = [];
      loop.unsent = [];
    }
    // Stopped by the interrupt before the model answered: as if Temporal had cancelled it.
    if (result.interrupted) throw new CancelledFailure('interrupted');
    if (result.budgetReached) {
      // The session's threads together spent the budget: stop here; raising it resumes.
      state.budgetHalted = true;
      return { stopReason: { type: 'budget_reached' }, leading };
    }
    leading = [];
    loop.unsent = [];
    countStep(loop, result);

    const ran = new Set(result.ranTools);
    const left = result.toolUses.filter((ref) => !ran.has(ref.toolUseId));
    if (left.length > 0) {
      // Only calls that will run in the sandbox warm it while they wait (for approval, say):
      // a custom tool's call, an MCP or web tool, a denied call or a delegation (whose thread
      // warms its own) need none. Sessions begun before the patch warmed it for any but a delegation.
      if (left.some((ref) => ref.kind !== 'delegation') && (!patched(PATCHES.warmOnlyForSandboxTools) || left.some((ref) => runsInSandbox(loop, ref)))) await loop.warmSandbox();
      await runStepTools(loop, left, result.toolAttempt ?? 0);
    }
    // Messages that arrived while the agent worked are delivered at the next model turn.
    // An interrupt that killed the tools lets the step end normally: stop here, before taking more input.
    if (loop.interruptRequested && patched(PATCHES.interruptKillsTools)) throw new CancelledFailure('interrupted');
    const arrived = drainInbox(loop);
    leading = arrived.events;
    loop.unsent = leading;
    if (result.toolUses.length === 0 && arrived.messages === 0) {
      // An answer given while threads it started still work is not the last word: their reports are the next step.
      if (result.stopReason !== 'refusal' && hasRunningThreads(loop) && (await awaitThreads(loop))) {
        leading = loop.unsent;
        continue;
      }
      return { stopReason: result.stopReason === 'refusal' ? { type: 'refusal' } : { type: 'end_turn' }, leading: loop.unsent };
    }
    if (loop.shouldContinueAsNew()) {
      // Put the drained events back so the next run delivers them.
      requeue(loop, leading);
      await loop.continueAsNewNow();
    }
  }
}

/**
 * The step's model call. It runs the step's tools itself when none needs an answer (a step
 * is then one activity, not two), and may go on to the next steps while nothing needs the
 * workflow (`followOnOf`); while it runs, interrupts and new input find it through `stepCall`.
 */
async function callModel(loop: SessionLoop, leading: WorkflowEvent[]) {
  const { state, sessionId, tuning } = loop;
  const first = state.callCounter++;
  const callKey = `call:${first}`;
  // A self-hosted session's tools run on its environment's workers, never in the step.
  const tools = !loop.selfHosted && patched(PATCHES.toolsInStep) ? loop.toolSettings() : undefined;
  const handed = state.callsHanded ?? 0;
  const followOn = tools && mayTakeMoreSteps(loop) && patched(PATCHES.stepsInActivity) ? followOnOf(loop, first) : undefined;
  loop.stepCall = tools ? { logId: loop.logId, callKey, ...(followOn?.callKeys.length ? { followOn: followOn.callKeys } : {}) } : undefined;
  try {
    const result = await loop.activities.callModel({
      sessionId: loop.logId,
      callKey,
      agent: loop.agent,
      leading,
      maxAttempts: tuning.modelMaxAttempts,
      vaultIds: state.vaultIds ?? [],
      spent: { usage: state.usage, costNanos: state.costNanos ?? 0 },
      budget: state.budget ?? null,
      ...(loop.thread ? { thread: { sessionId, threadId: loop.thread.id } } : {}),
      ...(loop.input.primaryThreadId ? { multiagent: { sessionId, threadId: loop.threadId()!, depth: loop.thread?.depth ?? 0 } } : {}),
      ...(tools ? { tools } : {}),
      ...(loop.selfHosted ? { selfHosted: true } : {}),
      // Only a step's session returns its answer: the input alone decides, so older histories replay unchanged.
      ...(loop.input.endAfterTurn === true ? { answerText: true } : {}),
      ...(followOn ? { followOn, keysTriedBefore: Math.max(0, handed - first) } : {}),
    });
    if (result.steps) {
      state.callCounter += result.steps.earlier.length;
      // Keys past the last step are free again, unless this activity may have used them.
      state.callsHanded = Math.max(handed, first + result.steps.keysTouched);
    }
    return result;
  } finally {
    loop.stepCall = undefined;
  }
}

/**
 * Only a session's own agent goes on step after step by itself: a multi-agent session's
 * budget and reports move with its threads, and the workflow keeps those between steps.
 */
function mayTakeMoreSteps(loop: SessionLoop): boolean {
  return loop.tuning.stepsPerActivity > 1 && loop.thread === undefined && loop.input.primaryThreadId === undefined;
}

/**
 * The keys of the steps a model call may take after its own, within the turn's step limit.
 * Until it reports how far it went, every one of them counts as maybe used (`callsHanded`).
 */
function followOnOf(loop: SessionLoop, first: number): { callKeys: string[]; windowMs: number } {
  const { state, tuning } = loop;
  const more = Math.max(0, Math.min(tuning.stepsPerActivity - 1, tuning.maxStepsPerTurn - state.stepsInTurn - 1));
  state.callsHanded = Math.max(state.callsHanded ?? 0, first + 1 + more);
  return { callKeys: Array.from({ length: more }, (_, i) => `call:${first + 1 + i}`), windowMs: FOLLOW_ON_WINDOW_MS };
}

/** Counts a step the model made: the turn's and the session's steps, its usage and cost, its answer. */
function countStep(loop: SessionLoop, step: { usage: Usage; costNanos?: number | undefined; text?: string | undefined }): void {
  const { state } = loop;
  state.stepsInTurn += 1;
  state.totalSteps += 1;
  addUsage(state.usage, step.usage);
  state.costNanos = (state.costNanos ?? 0) + (step.costNanos ?? 0);
  if (step.text !== undefined) loop.lastAnswerText = step.text;
}

/**
 * Waits for the threads this one started to report. True once there is a message (a
 * report, or the user's) to act on; false when no thread is left working. What it takes
 * from the inbox joins `loop.unsent`, the next step's leading events.
 */
async function awaitThreads(loop: SessionLoop): Promise<boolean> {
  const { state } = loop;
  for (;;) {
    await condition(() => state.inbox.length > 0 || !hasRunningThreads(loop));
    if (state.inbox.length === 0) return false;
    const more = drainInbox(loop);
    loop.unsent = [...loop.unsent, ...more.events];
    if (more.messages > 0) return true;
  }
}

/**
 * Runs a step's tool calls: allowed ones at once, denied ones answered with the
 * denial, and the ones that wait for the client (approvals, custom tools) as the
 * client resolves them, while the others run.
 */
async function runStepTools(loop: SessionLoop, refs: readonly ToolUseRef[], priorAttempts: number): Promise<void> {
  const running: Promise<unknown>[] = [];
  const pending = new Map<string, ToolUseRef>();
  /** Calls a self-hosted environment's worker runs, by event id: answered with `user.tool_result`. */
  const onWorker = new Map<string, ToolUseRef>();
  const denied: WorkflowEvent[] = [];
  const delegations = refs.filter((ref) => ref.kind === 'delegation');
  // Threads start (or hear a follow-up) alongside the step's other tools.
  if (delegations.length > 0) running.push(runDelegations(loop, delegations).then((events) => loop.emit(events)));
  for (const ref of refs) {
    if (ref.kind === 'delegation') continue;
    if (ref.kind === 'custom' || ref.permission === 'ask') pending.set(ref.eventId, ref);
    else if (ref.permission === 'deny') denied.push(errorResult(ref, `This call was denied by the permission policy (${ref.denyReason ?? 'denied'}).`));
    else if (loop.runsOnWorker(ref)) onWorker.set(ref.eventId, ref);
    else startTool(loop, ref, running, [], priorAttempts);
  }
  if (denied.length > 0) running.push(loop.emit(denied));
  // The worker sees the calls held for approval too, and runs them once they are allowed.
  if (refs.some((ref) => loop.runsOnWorker(ref) && ref.permission !== 'deny')) await loop.ensureWork();
  if (pending.size > 0) await awaitClient(loop, pending, running, onWorker);
  if (onWorker.size > 0) running.push(awaitWorker(loop, onWorker));
  await Promise.all(running);
}

/**
 * Waits for a self-hosted environment's worker to answer the calls it runs, recording each
 * `user.tool_result` as it comes. A stopped work item (its worker quit, or was told to) is
 * replaced, so the calls wait for the next worker; a session may wait for days.
 */
async function awaitWorker(loop: SessionLoop, calls: Map<string, ToolUseRef>): Promise<void> {
  const { state } = loop;
  const answers = (e: InboundEvent) => e.type === 'user.tool_result' && calls.has(e.tool_use_id);
  while (calls.size > 0) {
    await condition(() => state.inbox.some(answers) || loop.workReleased);
    if (!state.inbox.some(answers)) {
      await loop.ensureWork();
      continue;
    }
    const events: WorkflowEvent[] = [];
    for (const answer of takeAnswers(loop, answers)) {
      if (answer.type !== 'user.tool_result') continue;
      const ref = calls.get(answer.tool_use_id);
      if (!ref) continue;
      calls.delete(answer.tool_use_id);
      const key = answer.key ?? loop.nextKey(answer.type);
      const event = resolutionEvent(answer);
      events.push({ key, event, transcript: { kind: 'tool_result', tool_use_id: ref.toolUseId, content: answer.content ?? [], is_error: answer.is_error ?? false } });
      // A thread's answer goes to the session's log too, beside the call's copy: a worker reading the session sees the call answered.
      if (loop.thread) events.push({ key: `${loop.thread.id}:${key}`, event: { ...event, session_thread_id: loop.thread.id }, log: loop.sessionId });
    }
    await loop.emit(events);
  }
}

/** Whether the call, once it runs, runs in this session's own sandbox: a builtin sandbox tool not denied, and not left to a self-hosted worker. */
function runsInSandbox(loop: SessionLoop, ref: ToolUseRef): boolean {
  return isSandboxToolCall(ref) && ref.permission !== 'deny' && !loop.runsOnWorker(ref);
}

function startTool(loop: SessionLoop, ref: ToolUseRef, running: Promise<unknown>[], leading: WorkflowEvent[] = [], priorAttempts = 0): void {
  const { sessionId } = loop;
  const attempt = loop.activities.runTool({
    ...loop.toolSettings(),
    toolUseId: ref.toolUseId,
    eventId: ref.eventId,
    name: ref.name,
    ...(ref.kind === 'mcp' ? { kind: 'mcp' as const, mcpServer: ref.mcpServer, mcpTool: ref.mcpTool } : {}),
    ...(leading.length > 0 ? { leading } : {}),
    // The step's own activity tried the call already.
    ...(priorAttempts > 0 ? { priorAttempts } : {}),
  });
  // A call whose retries ran out is the tool's error result, not the end of the session.
  const call = attempt.catch(async (err: unknown) => {
    if (isCancellation(err)) throw err;
    const cause = failureMessage(err);
    log.warn('tool call failed for good', { sessionId, toolUseId: ref.toolUseId, error: cause });
    await loop.emit([...leading, errorResult(ref, `The tool call failed: ${cause}`)]);
    return { isError: true };
  });
  if (isSandboxToolCall(ref)) {
    loop.runningSandboxTools.add(ref.toolUseId);
    const settled = () => loop.runningSandboxTools.delete(ref.toolUseId);
    void call.then(settled, settled);
  }
  // Awaited with the step's other calls; this only keeps an early failure from counting as unhandled.
  call.catch(() => undefined);
  running.push(call);
}

/** Idles with `requires_action` until every pending call is resolved; each partial answer re-idles with the rest. */
async function awaitClient(loop: SessionLoop, pending: Map<string, ToolUseRef>, running: Promise<unknown>[], onWorker: Map<string, ToolUseRef>): Promise<void> {
  const { state } = loop;
  loop.awaiting = pending;
  const waiting = (): WorkflowEvent[] => {
    const stopReason: StopReason = { type: 'requires_action', event_ids: [...pending.keys()] };
    state.lastStopReason = stopReason;
    return loop.statusEvents('idle', { stop_reason: stopReason, stop_details: null });
  };
  state.phase = 'idle';
  await loop.emit(waiting());
  const resolves = (e: InboundEvent) =>
    (e.type === 'user.tool_confirmation' && pending.has(e.tool_use_id)) || (e.type === 'user.custom_tool_result' && pending.has(e.custom_tool_use_id));
  try {
    while (pending.size > 0) {
      await condition(() => state.inbox.some(resolves));
      const answers = takeAnswers(loop, resolves);
      const events: WorkflowEvent[] = [];
      const approved: ToolUseRef[] = [];
      for (const answer of answers) {
        const key = answer.key ?? loop.nextKey(answer.type);
        if (answer.type === 'user.tool_confirmation') {
          const ref = pending.get(answer.tool_use_id);
          if (!ref) continue;
          pending.delete(answer.tool_use_id);
          events.push({ key, event: resolutionEvent(answer) });
          if (answer.result === 'allow') approved.push(ref);
          else events.push(errorResult(ref, answer.deny_message ? `The user denied this tool call: ${answer.deny_message}` : 'The user denied this tool call.'));
        } else if (answer.type === 'user.custom_tool_result') {
          const ref = pending.get(answer.custom_tool_use_id);
          if (!ref) continue;
          pending.delete(answer.custom_tool_use_id);
          events.push({
            key,
            event: resolutionEvent(answer),
            transcript: { kind: 'tool_result', tool_use_id: ref.toolUseId, content: answer.content ?? [], is_error: answer.is_error ?? false },
          });
        }
      }
      if (pending.size > 0) {
        events.push(...waiting());
      } else {
        state.phase = 'running';
        events.push(...loop.statusEvents('running'));
      }
      // An approved call the worker runs is its to start: the worker hears the approval from the log.
      for (const ref of approved.filter((r) => loop.runsOnWorker(r))) onWorker.set(ref.eventId, ref);
      // The first approved call records the answers as it starts: one hop less between approval and tool.
      const [first, ...rest] = approved.filter((r) => !loop.runsOnWorker(r));
      if (first) startTool(loop, first, running, events);
      else await loop.emit(events);
      for (const ref of rest) startTool(loop, ref, running);
    }
  } finally {
    loop.awaiting = new Map();
  }
}

/** An error result for a call that did not run (denied, or failed for good). Same key as a run's result, so it is recorded once. */
function errorResult(ref: ToolUseRef, text: string): WorkflowEvent {
  const content = [{ type: 'text' as const, text }];
  const event: WorkflowEvent['event'] =
    ref.kind === 'mcp'
      ? { type: 'agent.mcp_tool_result', mcp_tool_use_id: ref.eventId, content, is_error: true }
      : { type: 'agent.tool_result', tool_use_id: ref.eventId, content, is_error: true };
  return { key: `tool:${ref.toolUseId}:result`, event, transcript: { kind: 'tool_result', tool_use_id: ref.toolUseId, content, is_error: true } };
}
