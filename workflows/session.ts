import { ApplicationFailure, CancellationScope, condition, isCancellation, log, patched, setHandler } from '@temporalio/workflow';
import type { StopReason } from '../src/schemas/events.ts';
import {
  SESSION_TERMINATED,
  mountFilesSignal,
  settingsSignal,
  statusQuery,
  terminateSignal,
  threadEventsSignal,
  userEventsSignal,
  workReleasedSignal,
  type SessionResult,
  type SessionWorkflowInput,
  type WorkflowEvent,
} from './contract.ts';
import { isModelFailure } from './failures.ts';
import { drainInbox, drainInterrupts, requeue } from './inbox.ts';
import { PATCHES } from './patches.ts';
import { SessionLoop } from './session-loop.ts';
import { dropGrader, evaluateOutcome, interruptedEvaluation, startGrader } from './outcome.ts';
import { forwardInterrupt, forwardSettings, reportToParent, terminateThreads, threadCreatedEvents } from './threads.ts';
import { runTurn, type TurnEnd } from './turn.ts';

/**
 * A session: one long-lived workflow that runs the agent loop
 * (model → tools → model …) for each user turn and waits, holding no worker,
 * between turns. The transcript and tool outputs live in the store; this code
 * only moves keys and small summaries. The turn is in `turn.ts`, the inbox in
 * `inbox.ts`, the state this run works on in `session-loop.ts`.
 *
 * A session run as a step of another workflow (`input.endAfterTurn`) ends after its first
 * turn and returns that turn's `SessionResult`; any other session returns nothing.
 */
export async function sessionWorkflow(input: SessionWorkflowInput): Promise<SessionResult | undefined> {
  const loop = new SessionLoop(input);
  const { state } = loop;
  setHandlers(loop);
  // How a step's turn ended; unset while it works, and when it was terminated instead.
  let stepEnd: StopReason | undefined;
  // A thread's log opens with its creation, recorded with its first turn.
  let opening = loop.thread && input.carried === undefined ? threadCreatedEvents(loop) : [];
  loop.startSandboxEarly();

  // A turn stopped at the budget has work again once the budget is raised.
  const hasWork = () => state.inbox.length > 0 || loop.terminateRequested || (state.budgetHalted === true && !loop.overBudget()) || loop.hasPendingMounts();
  for (;;) {
    if (!state.turnActive) {
      // Sessions created before idle release existed replay without the timer.
      const releaseIdleSandbox = patched(PATCHES.releaseIdleSandbox);
      // The sandbox is the session's: only the primary gives it back.
      if (releaseIdleSandbox && !loop.thread && loop.sandboxWarm && !(await condition(hasWork, loop.tuning.idleSandboxReleaseMs))) {
        // Idle long enough: give the container back; the session's disk keeps /workspace.
        await loop.releaseSandbox();
      }
      await condition(hasWork);
    }
    if (loop.terminateRequested) break;

    if (!state.turnActive && loop.hasPendingMounts() && patched(PATCHES.mountFiles)) {
      const wasWarm = loop.sandboxWarm;
      await loop.mountPending();
      // No turn scope existed to cancel while the files were copied: the terminate is seen here.
      if (loop.terminateRequested && patched(PATCHES.terminateDuringMount)) break;
      if (!state.inbox.some((e) => e.type === 'user.message')) {
        // No turn to use the container started for the copy: give it back; the disk keeps the files.
        if (!wasWarm) await loop.releaseSandbox();
        continue;
      }
    }

    const drained = drainInbox(loop);
    drained.events.unshift(...opening);
    opening = [];
    const budgetRaised = !state.turnActive && state.budgetHalted === true && !loop.overBudget();
    if (!state.turnActive && drained.messages === 0 && !budgetRaised) {
      // Nothing to act on while idle (interrupts, late answers): record them.
      await loop.emit(drained.events);
      continue;
    }
    state.budgetHalted = false;
    const resumed = state.turnActive;
    state.turnActive = true;
    state.phase = 'running';
    loop.interruptRequested = false;
    const leading = resumed ? drained.events : [...drained.events, ...loop.statusEvents('running')];
    if (!resumed && loop.warmsSandboxPerTurn) void loop.warmSandbox();

    loop.turnScope = new CancellationScope();
    try {
      const scope = loop.turnScope;
      const outcome = await scope.run(() => runTurnAndGrade(loop, leading));
      // Idle is recorded outside the turn's scope so an interrupt racing it cannot record it twice.
      loop.turnScope = undefined;
      await loop.goIdle(outcome.stopReason, outcome.leading);
    } catch (err) {
      if (isCancellation(err) && (loop.interruptRequested || loop.terminateRequested)) {
        const unsent = loop.unsent;
        loop.unsent = [];
        // Input the interrupted call had taken was the user's before the interrupt: it is recorded
        // (if the call had not yet) and waits for the next turn, which only a new message starts.
        const recordUnsent = unsent.length > 0 && !loop.terminateRequested && patched(PATCHES.interruptRecordsUnsent);
        // Before that patch it went back to the inbox and started a turn at once; a terminate records it as the session ends.
        if (unsent.length > 0 && !recordUnsent && patched(PATCHES.requeueUnsentOnInterrupt)) requeue(loop, unsent);
        if (loop.terminateRequested) break;
        // The interrupt is echoed (and a grading it stopped closed), then the session idles; messages that came with it start the next turn.
        await CancellationScope.nonCancellable(async () =>
          loop.goIdle({ type: 'end_turn' }, [...(recordUnsent ? unsent : []), ...(await interruptedEvaluation(loop)), ...drainInterrupts(loop)], { interrupted: true }),
        );
      } else if (isModelFailure(err)) {
        // callModel already recorded the session.error; the turn is abandoned, the session stays usable.
        await loop.goIdle({ type: 'retries_exhausted' }, drainInterrupts(loop));
      } else {
        throw err;
      }
    } finally {
      loop.turnScope = undefined;
    }
    // Decided by the input alone, so sessions started without it replay unchanged.
    if (input.endAfterTurn === true) {
      stepEnd = state.lastStopReason ?? { type: 'end_turn' };
      break;
    }
    if (loop.shouldContinueAsNew()) await loop.continueAsNewNow();
  }

  // Terminated: record it, end its threads, release the sandbox; archive and delete remove more.
  await CancellationScope.nonCancellable(async () => {
    const wasWorking = state.turnActive;
    state.phase = 'terminated';
    await terminateThreads(loop);
    await loop.emit([...opening, ...(await interruptedEvaluation(loop)), ...drainInbox(loop).events, ...loop.statusEvents('terminated')]);
    if (loop.thread) {
      // A thread ends alone: the sandbox is the session's. Its starter stops waiting for it.
      if (wasWorking) await reportToParent(loop, { type: 'end_turn' }, { terminated: true });
      // Deleted with its session: its log goes after its last write (the session's purge may have run already).
      if (loop.removal.records === true) await loop.activities.purgeSessionRecords({ sessionId: loop.logId });
      return;
    }
    const { removal, sessionId } = loop;
    // Only signals sent since deletion existed ask for removal, so older histories replay unchanged.
    const removing = (removal.workspace === true || removal.records === true) && patched(PATCHES.removeOnDelete);
    await loop.earlySandboxStartSettled();
    await loop.activities.destroySandbox({ sessionId, removeVolume: removing && (removal.workspace === true || removal.records === true) });
    if (removing && removal.records === true) await loop.activities.purgeSessionRecords({ sessionId });
  });
  if (input.endAfterTurn !== true) return undefined;
  if (stepEnd === undefined) throw ApplicationFailure.nonRetryable(`session ${loop.sessionId} was terminated before its turn ended`, SESSION_TERMINATED);
  return { sessionId: loop.sessionId, text: loop.lastAnswerText, stopReason: stepEnd, ...loop.spentSoFar() };
}

/**
 * A turn, and while an outcome is open the grading after it: a verdict that sends the
 * agent back (with the grader's feedback) runs another turn without going idle.
 */
async function runTurnAndGrade(loop: SessionLoop, leading: WorkflowEvent[]): Promise<TurnEnd> {
  let grader = startGrader(loop);
  try {
    let ended = await runTurn(loop, leading);
    while (ended.stopReason.type === 'end_turn' && loop.state.outcome) {
      // An outcome defined during the turn, or replaced by a newer one, has no grader waiting yet.
      if (grader?.outcome.id !== loop.state.outcome.id) {
        dropGrader(grader);
        grader = startGrader(loop);
      }
      const graded = await evaluateOutcome(loop, ended.leading, grader!);
      grader = undefined;
      if (!graded.agentAgain) return { stopReason: ended.stopReason, leading: graded.leading };
      grader = startGrader(loop);
      ended = await runTurn(loop, graded.leading);
    }
    return ended;
  } finally {
    // A turn that ended without grading (budget, refusal, a failed model call) gives its grader up.
    dropGrader(grader);
  }
}

/** Signals and queries: they only record requests on the loop; the loop acts on them. */
function setHandlers(loop: SessionLoop): void {
  const { state, sessionId } = loop;
  setHandler(userEventsSignal, (events) => {
    for (const event of events) {
      state.inbox.push(event);
      // New input reaches the next step: a model call taking steps by itself stops after this one.
      if (event.type !== 'user.interrupt') loop.askStepsToYield();
      // An interrupt that names no thread is for every thread: pass it on to the ones this one started.
      if (event.type === 'user.interrupt' && event.session_thread_id === undefined) forwardInterrupt(loop);
      // A turn waiting for approvals is still a turn: an interrupt ends it.
      if (event.type === 'user.interrupt' && state.turnActive) {
        loop.interruptRequested = true;
        loop.turnScope?.cancel();
        // Cancellation reaches a running activity only with its next heartbeat; killing the
        // sandbox processes directly ends the call now. Histories from before this replay without it.
        // A model call running its step's tools (only in histories since that) has them looked up by the call.
        if ((loop.runningSandboxTools.size > 0 || loop.stepCall !== undefined) && patched(PATCHES.interruptKillsTools)) {
          const toolUseIds = [...loop.runningSandboxTools];
          const { logId, callKey, followOn } = loop.stepCall ?? {};
          const step = logId !== undefined && callKey !== undefined ? { step: { logId, callKey, ...(followOn ? { followOn } : {}) } } : {};
          void CancellationScope.nonCancellable(() => loop.activities.interruptTools({ sessionId, environment: loop.input.environment, toolUseIds, ...step, ...loop.vaults() })).catch(
            (err: unknown) => log.warn('killing interrupted tools failed; they stop at their next heartbeat', { sessionId, error: String(err) }),
          );
        }
      }
    }
  });
  setHandler(threadEventsSignal, (events) => {
    state.inbox.push(...events);
  });
  setHandler(terminateSignal, (requested) => {
    loop.terminateRequested = true;
    if (requested?.workspace === true) loop.removal.workspace = true;
    if (requested?.records === true) loop.removal.records = true;
    loop.turnScope?.cancel();
  });
  setHandler(settingsSignal, ({ agent, ...shared }) => {
    if (agent !== undefined) state.agent = agent;
    if (shared.budget !== undefined) state.budget = shared.budget;
    if (shared.vaultIds !== undefined) state.vaultIds = shared.vaultIds;
    // The threads hold the session's budget and vaults; their agents are their own.
    if (shared.budget !== undefined || shared.vaultIds !== undefined) forwardSettings(loop, shared);
    // The next step works with the new settings.
    loop.askStepsToYield();
  });
  setHandler(workReleasedSignal, () => {
    loop.workReleased = true;
  });
  setHandler(mountFilesSignal, (files) => {
    state.pendingMounts = [...(state.pendingMounts ?? []), ...files];
    loop.askStepsToYield();
  });
  setHandler(statusQuery, () => ({
    phase: state.phase,
    stopReason: state.lastStopReason,
    usage: state.usage,
    totalSteps: state.totalSteps,
    runs: state.runs,
    inboxSize: state.inbox.length,
    costNanos: state.costNanos ?? 0,
    awaiting: [...loop.awaiting.keys()],
  }));
}

/**
 * A thread of a multi-agent session: the session's agent loop on the thread's own log
 * and transcript, with the roster member's agent, in the session's sandbox. It takes
 * work from the thread that started it (`threadEventsSignal`) and reports each answer
 * back; it ends when the session ends or the thread is archived.
 */
export async function threadWorkflow(input: SessionWorkflowInput): Promise<void> {
  if (input.thread === undefined) throw new Error('threadWorkflow needs input.thread');
  await sessionWorkflow(input);
}
