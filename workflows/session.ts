import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SessionActivities } from '../activities/session-activities.ts';
import { SANDBOX_TOOLS } from '../src/core/agent-toolset.ts';
import { parseUsd } from '../src/core/budget.ts';
import type { StopReason } from '../src/schemas/events.ts';
import {
  mountFilesSignal,
  settingsSignal,
  statusQuery,
  terminateSignal,
  userEventsSignal,
  type CarriedState,
  type FileMount,
  type SessionRemoval,
  type InboundUserEvent,
  type SessionStatus,
  type SessionWorkflowInput,
  type ToolUseRef,
  type Usage,
  type WorkflowEvent,
} from './contract.ts';

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
    costNanos: 0,
    budget: input.budget ?? null,
    budgetHalted: false,
    vaultIds: input.vaultIds ?? [],
    ...(input.mounts?.length ? { pendingMounts: [...input.mounts] } : {}),
  };
  state.runs += 1;
  // Runs carried from before budgets existed lack these.
  state.costNanos ??= 0;
  if (state.budget === undefined) state.budget = input.budget ?? null;
  state.vaultIds ??= input.vaultIds ?? [];

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
  const { emitEvents, ensureSandbox, destroySandbox, releaseSandbox, purgeSessionRecords } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
  });
  const { mountFiles } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '30 minutes',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
  });
  const { interruptTools } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '100ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 5 },
  });

  let interruptRequested = false;
  let terminateRequested = false;
  /** What the end of the session removes (delete: everything; archive: the workspace). */
  const removal: SessionRemoval = {};
  let turnScope: CancellationScope | undefined;
  /** Tool calls of the current step waiting for the client, by event id. */
  let awaiting = new Map<string, ToolUseRef>();
  /** Sandbox tool calls in flight (their `toolu_…` ids), for interrupts to kill directly. */
  const runningSandboxTools = new Set<string>();

  const budgetNanos = () => (state.budget ? parseUsd(state.budget.max_list_cost.amount) : undefined);
  const overBudget = () => {
    const limit = budgetNanos();
    return limit !== undefined && (state.costNanos ?? 0) >= limit;
  };

  setHandler(userEventsSignal, (events) => {
    for (const event of events) {
      state.inbox.push(event);
      // A turn waiting for approvals is still a turn: an interrupt ends it.
      if (event.type === 'user.interrupt' && state.turnActive) {
        interruptRequested = true;
        turnScope?.cancel();
        // Cancellation reaches a running activity only with its next heartbeat; killing the
        // sandbox processes directly ends the call now. Histories from before this replay without it.
        if (runningSandboxTools.size > 0 && patched('interrupt-kills-tools')) {
          const toolUseIds = [...runningSandboxTools];
          const vaultIds = state.vaultIds?.length ? { vaultIds: state.vaultIds } : {};
          void CancellationScope.nonCancellable(() => interruptTools({ sessionId, environment, toolUseIds, ...vaultIds })).catch((err: unknown) =>
            log.warn('killing interrupted tools failed; they stop at their next heartbeat', { sessionId, error: String(err) }),
          );
        }
      }
    }
  });
  setHandler(terminateSignal, (requested) => {
    terminateRequested = true;
    if (requested?.workspace === true) removal.workspace = true;
    if (requested?.records === true) removal.records = true;
    turnScope?.cancel();
  });
  setHandler(settingsSignal, (settings) => {
    if (settings.budget !== undefined) state.budget = settings.budget;
    if (settings.vaultIds !== undefined) state.vaultIds = settings.vaultIds;
  });
  setHandler(mountFilesSignal, (files) => {
    state.pendingMounts = [...(state.pendingMounts ?? []), ...files];
  });
  setHandler(statusQuery, () => ({
    phase: state.phase,
    stopReason: state.lastStopReason,
    usage: state.usage,
    totalSteps: state.totalSteps,
    runs: state.runs,
    inboxSize: state.inbox.length,
    costNanos: state.costNanos ?? 0,
    awaiting: [...awaiting.keys()],
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
      switch (user.type) {
        case 'user.message':
          messages += 1;
          events.push({ key, event: { type: 'user.message', content: user.content }, transcript: { kind: 'user', content: user.content } });
          break;
        case 'user.interrupt':
          interrupts += 1;
          events.push(interruptEvent(user, key));
          break;
        case 'system.message':
          events.push({ key, event: { type: 'system.message', content: user.content }, transcript: { kind: 'system', content: user.content } });
          break;
        default:
          // A confirmation or result for a call that no longer waits (answered twice, or interrupted): logged only.
          events.push({ key, event: resolutionEvent(user) });
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
    return continueAsNew<typeof sessionWorkflow>({ ...input, initialEvents: undefined, mounts: undefined, carried: state });
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
    sandboxReady ??= ensureSandbox({ sessionId, environment, ...(state.vaultIds?.length ? { vaultIds: state.vaultIds } : {}) }).catch((err: unknown) => {
      // Tools provision on demand too; a failed warm-up only costs latency.
      log.warn('sandbox warm-up failed', { sessionId, error: String(err) });
      sandboxReady = undefined;
    });
    return sandboxReady;
  };

  const hasPendingMounts = () => (state.pendingMounts?.length ?? 0) > 0;

  /**
   * Copies the files received so far into the sandbox. Files that cannot be
   * mounted (deleted since, say) are reported as a `session.error` and dropped:
   * the session goes on without them.
   */
  const mountPending = async () => {
    const files = [...(state.pendingMounts ?? [])];
    try {
      await mountFiles({ sessionId, environment, files, ...(state.vaultIds?.length ? { vaultIds: state.vaultIds } : {}) });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = failureMessage(err);
      log.warn('mounting files failed for good', { sessionId, error: cause });
      const paths = files.map((f) => f.mountPath).join(', ');
      await emitEvents({
        sessionId,
        events: [event('session.error', { error: { type: 'unknown_error', message: `could not place ${paths} in the sandbox: ${cause}`, retry_status: { type: 'exhausted' } } })],
      });
    }
    // Files signalled while this ran stay for the next mount.
    state.pendingMounts = (state.pendingMounts ?? []).slice(files.length);
  };

  const toolTimeoutMs = tuning.toolTimeoutMs ?? 600_000;
  const startTool = (ref: ToolUseRef, running: Promise<unknown>[], leading: WorkflowEvent[] = []) => {
    const attempt = runTool({
      sessionId,
      environment,
      toolUseId: ref.toolUseId,
      eventId: ref.eventId,
      name: ref.name,
      defaultTimeoutMs: toolTimeoutMs,
      ...(ref.kind === 'mcp' ? { kind: 'mcp' as const, mcpServer: ref.mcpServer, mcpTool: ref.mcpTool } : {}),
      ...(state.vaultIds?.length ? { vaultIds: state.vaultIds } : {}),
      ...(leading.length > 0 ? { leading } : {}),
    });
    // A call whose retries ran out is the tool's error result, not the end of the session.
    const call = attempt.catch(async (err: unknown) => {
      if (isCancellation(err)) throw err;
      const cause = failureMessage(err);
      log.warn('tool call failed for good', { sessionId, toolUseId: ref.toolUseId, error: cause });
      await emitEvents({ sessionId, events: [...leading, errorResult(ref, `The tool call failed: ${cause}`)] });
      return { isError: true };
    });
    if (ref.kind !== 'mcp' && SANDBOX_TOOLS.has(ref.name)) {
      runningSandboxTools.add(ref.toolUseId);
      const settled = () => runningSandboxTools.delete(ref.toolUseId);
      void call.then(settled, settled);
    }
    // Awaited with the step's other calls; this only keeps an early failure from counting as unhandled.
    call.catch(() => undefined);
    running.push(call);
  };

  /**
   * Runs a step's tool calls: allowed ones at once, denied ones answered with the
   * denial, and the ones that wait for the client (approvals, custom tools) as the
   * client resolves them, while the others run.
   */
  const runStepTools = async (refs: readonly ToolUseRef[]) => {
    const running: Promise<unknown>[] = [];
    const pending = new Map<string, ToolUseRef>();
    const denied: WorkflowEvent[] = [];
    for (const ref of refs) {
      if (ref.kind === 'custom' || ref.permission === 'ask') pending.set(ref.eventId, ref);
      else if (ref.permission === 'deny') denied.push(errorResult(ref, `This call was denied by the permission policy (${ref.denyReason ?? 'denied'}).`));
      else startTool(ref, running);
    }
    if (denied.length > 0) running.push(emitEvents({ sessionId, events: denied }));
    if (pending.size > 0) await awaitClient(pending, running);
    await Promise.all(running);
  };

  /** Idles with `requires_action` until every pending call is resolved; each partial answer re-idles with the rest. */
  const awaitClient = async (pending: Map<string, ToolUseRef>, running: Promise<unknown>[]) => {
    awaiting = pending;
    const waiting = (): WorkflowEvent => {
      const stopReason: StopReason = { type: 'requires_action', event_ids: [...pending.keys()] };
      state.lastStopReason = stopReason;
      return event('session.status_idle', { stop_reason: stopReason, stop_details: null });
    };
    state.phase = 'idle';
    await emitEvents({ sessionId, events: [waiting()] });
    const resolves = (e: InboundUserEvent) =>
      (e.type === 'user.tool_confirmation' && pending.has(e.tool_use_id)) || (e.type === 'user.custom_tool_result' && pending.has(e.custom_tool_use_id));
    try {
      while (pending.size > 0) {
        await condition(() => state.inbox.some(resolves));
        const answers = state.inbox.filter(resolves);
        state.inbox = state.inbox.filter((e) => !resolves(e));
        const events: WorkflowEvent[] = [];
        const approved: ToolUseRef[] = [];
        for (const answer of answers) {
          const key = answer.key ?? nextKey(answer.type);
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
          events.push(waiting());
        } else {
          state.phase = 'running';
          events.push(event('session.status_running'));
        }
        // The first approved call records the answers as it starts: one hop less between approval and tool.
        const [first, ...rest] = approved;
        if (first) startTool(first, running, events);
        else await emitEvents({ sessionId, events });
        for (const ref of rest) startTool(ref, running);
      }
    } finally {
      awaiting = new Map();
    }
  };

  /** User events taken from the inbox and not yet recorded; an interrupt puts them back. */
  let unsent: WorkflowEvent[] = [];

  /** One turn: model and tools until the model stops asking for tools. */
  const runTurn = async (leadingEvents: WorkflowEvent[]): Promise<{ stopReason: StopReason; leading: WorkflowEvent[] }> => {
    let leading = leadingEvents;
    unsent = leading;
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
      if (overBudget()) {
        // Stop before spending more; raising the budget resumes from here.
        state.budgetHalted = true;
        return { stopReason: { type: 'budget_reached' }, leading };
      }
      // Files added during the turn are in place before the model next looks.
      if (hasPendingMounts() && patched('mount-files')) await mountPending();
      const callKey = `call:${state.callCounter++}`;
      const result = await callModel({
        sessionId,
        callKey,
        agent,
        leading,
        maxAttempts: modelMaxAttempts,
        vaultIds: state.vaultIds ?? [],
        spent: { usage: state.usage, costNanos: state.costNanos ?? 0 },
        budget: state.budget ?? null,
      });
      leading = [];
      unsent = [];
      state.stepsInTurn += 1;
      state.totalSteps += 1;
      addUsage(state.usage, result.usage);
      state.costNanos = (state.costNanos ?? 0) + (result.costNanos ?? 0);

      if (result.toolUses.length > 0) {
        await warmSandbox();
        await runStepTools(result.toolUses);
      }
      // Messages that arrived while the agent worked are delivered at the next model turn.
      // An interrupt that killed the tools lets the step end normally: stop here, before taking more input.
      if (interruptRequested && patched('interrupt-kills-tools')) throw new CancelledFailure('interrupted');
      const arrived = drainInbox();
      leading = arrived.events;
      unsent = leading;
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

  // A turn stopped at the budget has work again once the budget is raised.
  const hasWork = () => state.inbox.length > 0 || terminateRequested || (state.budgetHalted === true && !overBudget()) || hasPendingMounts();
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

    if (!state.turnActive && hasPendingMounts() && patched('mount-files')) {
      const wasWarm = sandboxWarm;
      await mountPending();
      if (!state.inbox.some((e) => e.type === 'user.message')) {
        // No turn to use the container started for the copy: give it back; the volumes keep the files.
        if (!wasWarm) await releaseSandbox({ sessionId });
        continue;
      }
    }

    const drained = drainInbox();
    const budgetRaised = !state.turnActive && state.budgetHalted === true && !overBudget();
    if (!state.turnActive && drained.messages === 0 && !budgetRaised) {
      // Nothing to act on while idle (interrupts, late answers): record them.
      await emitEvents({ sessionId, events: drained.events });
      continue;
    }
    state.budgetHalted = false;
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
        // Messages taken for the next model call that never happened are delivered with the next turn.
        if (unsent.length > 0 && patched('requeue-unsent-on-interrupt')) state.inbox.unshift(...userEventsOf(unsent));
        unsent = [];
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

  // Terminated: record it, release the sandbox; archive and delete remove more.
  await CancellationScope.nonCancellable(async () => {
    state.phase = 'terminated';
    await emitEvents({ sessionId, events: [...drainInbox().events, event('session.status_terminated')] });
    // Only signals sent since deletion existed ask for removal, so older histories replay unchanged.
    const removing = (removal.workspace === true || removal.records === true) && patched('remove-on-delete');
    await destroySandbox({ sessionId, removeVolume: removing && (removal.workspace === true || removal.records === true) });
    if (removing && removal.records === true) await purgeSessionRecords({ sessionId });
  });
}

function interruptEvent(user: InboundUserEvent, key: string): WorkflowEvent {
  const thread = user.type === 'user.interrupt' ? user.session_thread_id : undefined;
  return { key, event: { type: 'user.interrupt', ...(thread ? { session_thread_id: thread } : {}) } };
}

/** The logged form of a client's answer (its routing key stripped). */
function resolutionEvent(user: InboundUserEvent): WorkflowEvent['event'] {
  const { key: _key, ...event } = user;
  return event;
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

function addUsage(total: Usage, delta: Usage): void {
  total.input_tokens += delta.input_tokens;
  total.output_tokens += delta.output_tokens;
  total.cache_creation_input_tokens += delta.cache_creation_input_tokens;
  total.cache_read_input_tokens += delta.cache_read_input_tokens;
}

/** What went wrong in an activity that failed for good: its cause's message, not the wrapper's. */
function failureMessage(err: unknown): string {
  return (err as { cause?: { message?: string } }).cause?.message ?? String(err);
}

function isModelFailure(err: unknown): boolean {
  // Branch on failure types, never on instanceof of activity error classes.
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof ApplicationFailure && (cause.type === 'ModelRequestInvalid' || cause.type === 'ModelRequestFailed');
}

const CLIENT_EVENT_TYPES = new Set(['user.message', 'user.interrupt', 'system.message', 'user.tool_confirmation', 'user.custom_tool_result']);

function userEventsOf(events: WorkflowEvent[]): InboundUserEvent[] {
  return events.flatMap((e): InboundUserEvent[] => (CLIENT_EVENT_TYPES.has(e.event.type) ? [{ ...e.event, key: e.key } as InboundUserEvent] : []));
}

/**
 * Removes what a session left behind when it had already ended before it was deleted
 * or archived (its workflow can no longer take the signal): its container, volumes and
 * host folder, and with `records` its rows. Started by the API under the id
 * `<session id>:cleanup`; any worker runs it, retried until done.
 */
export async function sessionCleanupWorkflow({ sessionId, records }: { sessionId: string; records: boolean }): Promise<void> {
  const { destroySandbox, purgeSessionRecords } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  await destroySandbox({ sessionId, removeVolume: true });
  if (records) await purgeSessionRecords({ sessionId });
}
