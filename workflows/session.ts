import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SessionActivities } from '../activities/session-activities.ts';
import type { StopReason } from '../src/schemas/events.ts';
import type { CarriedState, InboundUserEvent, SessionStatus, SessionWorkflowInput, Usage, WorkflowEvent } from './session-types.ts';

/** User events (`user.message`, `user.interrupt`) for the session. */
export const userEventsSignal = defineSignal<[InboundUserEvent[]]>('longhaul.userEvents');
/** Ends the session: `session.status_terminated`, sandbox removed. */
export const terminateSignal = defineSignal<[]>('longhaul.terminate');
export const statusQuery = defineQuery<SessionStatus>('longhaul.status');

const ZERO_USAGE: Usage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

/**
 * A session: one long-lived workflow that runs the agent loop
 * (model → tools → model …) for each user turn and waits, holding no worker,
 * between turns. The transcript and tool outputs live in the store; this code
 * only moves keys and small summaries.
 */
export async function sessionWorkflow(input: SessionWorkflowInput): Promise<void> {
  const { sessionId, agent, environment } = input;
  const tuning = input.tuning ?? {};
  const maxHistoryEvents = tuning.maxHistoryEvents ?? 2000;
  const state: CarriedState = input.carried ?? {
    schemaVersion: 1,
    emitCounter: 0,
    callCounter: 0,
    inbox: [...(input.initialEvents ?? [])],
    phase: 'idle',
    turnActive: false,
    stepsInTurn: 0,
    lastStopReason: null,
    usage: { ...ZERO_USAGE },
    totalSteps: 0,
    runs: 0,
  };
  state.runs += 1;

  const modelHeartbeatTimeoutMs = tuning.modelHeartbeatTimeoutMs ?? 30_000;
  const modelMaxAttempts = tuning.modelMaxAttempts ?? 8;
  const { callModel } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: modelHeartbeatTimeoutMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: modelMaxAttempts, nonRetryableErrorTypes: ['ModelRequestInvalid'] },
  });
  const { runTool } = proxyActivities<SessionActivities>({
    startToCloseTimeout: (tuning.toolTimeoutMs ?? 600_000) + 60_000,
    heartbeatTimeout: tuning.toolHeartbeatTimeoutMs ?? 30_000,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
  });
  const { emitEvents, ensureSandbox, destroySandbox, releaseSandbox } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
  });

  let interruptRequested = false;
  let terminateRequested = false;
  let turnScope: CancellationScope | undefined;

  setHandler(userEventsSignal, (events) => {
    for (const event of events) {
      state.inbox.push(event);
      if (event.type === 'user.interrupt' && state.phase === 'running') {
        interruptRequested = true;
        turnScope?.cancel();
      }
    }
  });
  setHandler(terminateSignal, () => {
    terminateRequested = true;
    turnScope?.cancel();
  });
  setHandler(statusQuery, () => ({
    phase: state.phase,
    stopReason: state.lastStopReason,
    usage: state.usage,
    totalSteps: state.totalSteps,
    runs: state.runs,
    inboxSize: state.inbox.length,
  }));

  const nextKey = (what: string) => `wf:${state.emitCounter++}:${what}`;
  const event = (type: string, fields: Record<string, unknown> = {}): WorkflowEvent => ({ key: nextKey(type), event: { type, ...fields } });

  /** Turns inbox user events into events to persist (and transcript items for messages). */
  const drainInbox = (): { events: WorkflowEvent[]; messages: number; interrupts: number } => {
    const drained = state.inbox.splice(0, state.inbox.length);
    const events: WorkflowEvent[] = [];
    let messages = 0;
    let interrupts = 0;
    for (const user of drained) {
      const key = user.key ?? nextKey(user.type);
      if (user.type === 'user.message') {
        messages += 1;
        events.push({ key, event: { type: 'user.message', content: user.content }, transcript: { kind: 'user', content: user.content } });
      } else {
        interrupts += 1;
        events.push(interruptEvent(user, key));
      }
    }
    return { events, messages, interrupts };
  };

  /**
   * Takes only the interrupts out of the inbox (to echo them as the turn ends);
   * messages stay, so "stop, do this instead" starts the next turn at once.
   */
  const drainInterrupts = (): WorkflowEvent[] => {
    const interrupts = state.inbox.filter((e) => e.type === 'user.interrupt');
    state.inbox = state.inbox.filter((e) => e.type !== 'user.interrupt');
    return interrupts.map((user) => interruptEvent(user, user.key ?? nextKey(user.type)));
  };

  const shouldContinueAsNew = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= maxHistoryEvents;

  const continueAsNewNow = async (): Promise<never> => {
    await condition(allHandlersFinished);
    log.info('session continues as new', { sessionId, historyLength: workflowInfo().historyLength, runs: state.runs });
    return continueAsNew<typeof sessionWorkflow>({ ...input, initialEvents: undefined, carried: state });
  };

  const goIdle = async (stopReason: StopReason, leading: WorkflowEvent[] = []) => {
    state.phase = 'idle';
    state.turnActive = false;
    state.stepsInTurn = 0;
    state.lastStopReason = stopReason;
    await emitEvents({ sessionId, events: [...leading, event('session.status_idle', { stop_reason: stopReason, stop_details: null })] });
  };

  // Warm the sandbox while the first model call is under way; tools wait for it.
  let sandboxReady: Promise<void> | undefined;
  let sandboxWarm = false;
  const warmSandbox = () => {
    sandboxWarm = true;
    sandboxReady ??= ensureSandbox({ sessionId, environment }).catch((err: unknown) => {
      // Tools provision on demand too; a failed warm-up only costs latency.
      log.warn('sandbox warm-up failed', { sessionId, error: String(err) });
      sandboxReady = undefined;
    });
    return sandboxReady;
  };

  /** One turn: model and tools until the model stops asking for tools. */
  const runTurn = async (leadingEvents: WorkflowEvent[]): Promise<{ stopReason: StopReason; leading: WorkflowEvent[] }> => {
    let leading = leadingEvents;
    const maxSteps = tuning.maxStepsPerTurn ?? 1000;
    for (;;) {
      if (state.stepsInTurn >= maxSteps) {
        return {
          stopReason: { type: 'retries_exhausted' },
          leading: [
            ...leading,
            event('session.error', { error: { type: 'unknown_error', message: `turn stopped after ${maxSteps} model requests`, retry_status: { type: 'exhausted' } } }),
          ],
        };
      }
      const callKey = `call:${state.callCounter++}`;
      const result = await callModel({ sessionId, callKey, agent, leading, maxAttempts: modelMaxAttempts });
      leading = [];
      state.stepsInTurn += 1;
      state.totalSteps += 1;
      addUsage(state.usage, result.usage);

      if (result.toolUses.length > 0) {
        await warmSandbox();
        await Promise.all(
          result.toolUses.map((toolUse) =>
            runTool({ sessionId, environment, toolUseId: toolUse.toolUseId, eventId: toolUse.eventId, name: toolUse.name, defaultTimeoutMs: tuning.toolTimeoutMs ?? 600_000 }),
          ),
        );
      }
      // Messages that arrived while the agent worked are delivered at the next model turn.
      const arrived = drainInbox();
      leading = arrived.events;
      if (result.toolUses.length === 0 && arrived.messages === 0) {
        return { stopReason: result.stopReason === 'refusal' ? { type: 'refusal' } : { type: 'end_turn' }, leading };
      }
      if (shouldContinueAsNew()) {
        // Put the drained events back so the next run delivers them.
        state.inbox.unshift(...userEventsOf(leading));
        await continueAsNewNow();
      }
    }
  };

  const hasWork = () => state.inbox.length > 0 || terminateRequested;
  for (;;) {
    if (!state.turnActive) {
      // Sessions created before idle release existed replay without the timer.
      const releaseIdleSandbox = patched('release-idle-sandbox');
      if (releaseIdleSandbox && sandboxWarm && !(await condition(hasWork, tuning.idleSandboxReleaseMs ?? 15 * 60_000))) {
        // Idle long enough: give the container back; the volume keeps /workspace.
        await releaseSandbox({ sessionId });
        sandboxWarm = false;
        sandboxReady = undefined;
      }
      await condition(hasWork);
    }
    if (terminateRequested) break;

    const drained = drainInbox();
    if (!state.turnActive && drained.messages === 0) {
      // Only interrupts while idle: echo them, nothing to stop.
      await emitEvents({ sessionId, events: drained.events });
      continue;
    }
    const resumed = state.turnActive;
    state.turnActive = true;
    state.phase = 'running';
    interruptRequested = false;
    const leading = resumed ? drained.events : [...drained.events, event('session.status_running')];
    if (!resumed) void warmSandbox();

    turnScope = new CancellationScope();
    try {
      const scope = turnScope;
      const outcome = await scope.run(() => runTurn(leading));
      // Idle is recorded outside the turn's scope so an interrupt racing it cannot record it twice.
      turnScope = undefined;
      await goIdle(outcome.stopReason, outcome.leading);
    } catch (err) {
      if (isCancellation(err) && (interruptRequested || terminateRequested)) {
        if (terminateRequested) break;
        // The interrupt is echoed, then the session idles; messages that came with it start the next turn.
        await CancellationScope.nonCancellable(() => goIdle({ type: 'end_turn' }, drainInterrupts()));
      } else if (isModelFailure(err)) {
        // callModel already recorded the session.error; the turn is abandoned, the session stays usable.
        await goIdle({ type: 'retries_exhausted' }, drainInterrupts());
      } else {
        throw err;
      }
    } finally {
      turnScope = undefined;
    }
    if (shouldContinueAsNew()) await continueAsNewNow();
  }

  // Terminated: record it, release the sandbox.
  await CancellationScope.nonCancellable(async () => {
    state.phase = 'terminated';
    await emitEvents({ sessionId, events: [...drainInbox().events, event('session.status_terminated')] });
    await destroySandbox({ sessionId, removeVolume: false });
  });
}

function interruptEvent(user: InboundUserEvent, key: string): WorkflowEvent {
  const thread = user.type === 'user.interrupt' ? user.session_thread_id : undefined;
  return { key, event: { type: 'user.interrupt', ...(thread ? { session_thread_id: thread } : {}) } };
}

function addUsage(total: Usage, delta: Usage): void {
  total.input_tokens += delta.input_tokens;
  total.output_tokens += delta.output_tokens;
  total.cache_creation_input_tokens += delta.cache_creation_input_tokens;
  total.cache_read_input_tokens += delta.cache_read_input_tokens;
}

function isModelFailure(err: unknown): boolean {
  // Branch on failure types, never on instanceof of activity error classes.
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof ApplicationFailure && (cause.type === 'ModelRequestInvalid' || cause.type === 'ModelRequestFailed');
}

function userEventsOf(events: WorkflowEvent[]): InboundUserEvent[] {
  return events.flatMap((e): InboundUserEvent[] => {
    if (e.event.type === 'user.message') return [{ type: 'user.message', content: e.event['content'] as never, key: e.key }];
    if (e.event.type === 'user.interrupt') return [{ type: 'user.interrupt', key: e.key }];
    return [];
  });
}
