import { CancellationScope, allHandlersFinished, condition, continueAsNew, isCancellation, log, patched, workflowInfo } from '@temporalio/workflow';
import { enabledAgentTools, isSandboxToolCall, SANDBOX_TOOLS } from '../src/core/agent-toolset.ts';
import type { AgentDefinition } from '../src/schemas/agent.ts';
import { budgetReached } from '../src/core/budget.ts';
import { sumUsage, zeroUsage, type Usage } from '../src/core/usage.ts';
import type { StopReason } from '../src/schemas/events.ts';
import { resolveTuning, sessionActivities, type ResolvedTuning, type SessionActivityProxies } from './activity-options.ts';
import type { CarriedState, SessionRemoval, SessionWorkflowInput, ThreadIdentity, ToolUseRef, WorkflowEvent } from './contract.ts';
import type { StepToolsInput } from '../activities/step-tools.ts';
import { failureMessage } from './failures.ts';
import { PATCHES } from './patches.ts';
import type { Grading } from './outcome.ts';
import { reportToParent } from './threads.ts';
import type { sessionWorkflow } from './session.ts';

/** A model call in flight that runs its step's tools (and maybe more steps) itself. */
export type StepCall = { logId: string; callKey: string; followOn?: string[] | undefined; yieldAsked?: boolean | undefined };

/** Events a step may add after `shouldContinueAsNew` last said no (a step adds about ten); at most a tenth of the bound. */
const HISTORY_HEADROOM = 50;

/**
 * Everything one run of a session workflow knows: its input, its tuning with defaults
 * resolved, its activities, the state it carries into the next run, and what only this
 * run holds (requests from signals, the turn's cancellation scope, the sandbox's
 * warm-up). The handlers, the turn and the inbox all work on this one object.
 */
export class SessionLoop {
  readonly input: SessionWorkflowInput;
  /** The session: its sandbox, its record. */
  readonly sessionId: string;
  /** Where this run's events and transcript go: the session's log, or its thread's. */
  readonly logId: string;
  /** Set when this run is a thread of the session, not its primary. */
  readonly thread: ThreadIdentity | undefined;
  readonly tuning: ResolvedTuning;
  readonly activities: SessionActivityProxies;
  readonly state: CarriedState;

  interruptRequested = false;
  terminateRequested = false;

  /** The agent this run works as: the input's, or the one `sessions.update` gave it since. */
  get agent(): AgentDefinition {
    return this.state.agent ?? this.input.agent;
  }
  /** What the end of the session removes (delete: everything; archive: the workspace). */
  readonly removal: SessionRemoval = {};
  turnScope: CancellationScope | undefined;
  /** Tool calls of the current step waiting for the client, by event id. */
  awaiting = new Map<string, ToolUseRef>();
  /** Sandbox tool calls in flight (their `toolu_…` ids), for interrupts to kill directly. */
  readonly runningSandboxTools = new Set<string>();
  /**
   * The model call in flight that runs its step's tools itself, for interrupts to kill them
   * directly; with `followOn`, the keys of the steps it may go on to (`runSteps`).
   */
  stepCall: StepCall | undefined;
  /** User events taken from the inbox and not yet recorded; an interrupt puts them back. */
  unsent: WorkflowEvent[] = [];
  sandboxReady: Promise<void> | undefined;
  sandboxWarm = false;
  /** Set when this run started the sandbox as the session began (`startSandboxEarly`); a release then waits for that start. */
  sandboxStartedEarly = false;
  /** Set by `workReleasedSignal`: the session's self-hosted work item was stopped. */
  workReleased = false;
  /** The outcome evaluation in flight, if any. */
  grading: Grading | undefined;
  /** The text of the agent's latest answer: what a thread reports to its starter, and what a step's session returns. */
  lastAnswerText = '';

  constructor(input: SessionWorkflowInput) {
    this.input = input;
    this.sessionId = input.sessionId;
    this.thread = input.thread;
    this.logId = input.thread?.id ?? input.sessionId;
    this.tuning = resolveTuning(input.tuning);
    this.activities = sessionActivities(this.tuning);
    this.state = input.carried ?? freshState(input);
    this.state.runs += 1;
    // Runs carried from before budgets existed lack these.
    this.state.costNanos ??= 0;
    if (this.state.budget === undefined) this.state.budget = input.budget ?? null;
    this.state.vaultIds ??= input.vaultIds ?? [];
  }

  /** The key of the next event the workflow itself makes. */
  nextKey(what: string): string {
    return `wf:${this.state.emitCounter++}:${what}`;
  }

  event(type: string, fields: Record<string, unknown> = {}): WorkflowEvent {
    return { key: this.nextKey(type), event: { type, ...fields } };
  }

  /** Records events in this run's log (the session's, or its thread's). */
  emit(events: WorkflowEvent[]): Promise<void> {
    return this.activities.emitEvents({ sessionId: this.logId, events });
  }

  /** The id of the thread this run is: the thread's, or the primary's (absent in single-agent sessions). */
  threadId(): string | undefined {
    return this.thread?.id ?? this.input.primaryThreadId;
  }

  /**
   * The events of a status change. The primary records `session.status_*`, and in a
   * multi-agent session also its own `session.thread_status_*` (the SDK's tool runner
   * takes the first thread status event for the primary's). A thread records
   * `session.thread_status_*` in its log and cross-posts it to the primary log.
   */
  statusEvents(status: 'running' | 'idle' | 'terminated', fields: Record<string, unknown> = {}): WorkflowEvent[] {
    const threadId = this.threadId();
    const threadFields = { session_thread_id: threadId, agent_name: this.thread?.agentName ?? this.input.agent.name, ...fields };
    if (this.thread === undefined) {
      const own = this.event(`session.status_${status}`, fields);
      return threadId === undefined ? [own] : [own, this.event(`session.thread_status_${status}`, threadFields)];
    }
    const own = this.event(`session.thread_status_${status}`, threadFields);
    // Keyed by the thread in the session's log, where every thread's keys meet.
    return [own, { key: `${this.thread.id}:${own.key}`, event: own.event, log: this.sessionId }];
  }

  /** The session's vaults as an activity argument (absent when it has none, as older histories recorded it). */
  vaults(): { vaultIds?: string[] } {
    return this.state.vaultIds?.length ? { vaultIds: this.state.vaultIds } : {};
  }

  /** What every tool call of this run is given besides the call itself. */
  toolSettings(): StepToolsInput {
    return {
      sessionId: this.sessionId,
      environment: this.input.environment,
      defaultTimeoutMs: this.tuning.toolTimeoutMs,
      ...this.vaults(),
      ...(this.thread ? { threadId: this.thread.id, threadAgentName: this.thread.agentName } : {}),
    };
  }

  /** What this run and the threads it started have spent, as far as it knows (their reports). */
  spentSoFar(): { usage: Usage; costNanos: number } {
    const children = Object.values(this.state.threads ?? {});
    return {
      usage: children.length === 0 ? this.state.usage : sumUsage([this.state.usage, ...children.map((c) => c.usage)]),
      costNanos: (this.state.costNanos ?? 0) + children.reduce((sum, c) => sum + c.costNanos, 0),
    };
  }

  /**
   * The budget covers the whole session: a thread counts what the rest of the session had
   * spent when its parent last wrote to it, so parallel threads see each other's spending
   * as their results come in.
   */
  overBudget(): boolean {
    return budgetReached(this.state.budget, this.spentSoFar().costNanos + (this.state.spentElsewhereNanos ?? 0));
  }

  hasPendingMounts(): boolean {
    return (this.state.pendingMounts?.length ?? 0) > 0;
  }

  /**
   * Checked between steps, and a step adds a few events after the check, so the run stops
   * `HISTORY_HEADROOM` short of the bound. The patch is asked only near the bound: a history
   * recorded before it never asked, so replays of it take the old branch.
   */
  shouldContinueAsNew(): boolean {
    const { continueAsNewSuggested, historyLength } = workflowInfo();
    if (continueAsNewSuggested || historyLength >= this.tuning.maxHistoryEvents) return true;
    const headroom = Math.min(HISTORY_HEADROOM, Math.floor(this.tuning.maxHistoryEvents / 10));
    return historyLength >= this.tuning.maxHistoryEvents - headroom && patched(PATCHES.historyHeadroom);
  }

  async continueAsNewNow(): Promise<never> {
    await condition(allHandlersFinished);
    log.info('session continues as new', { sessionId: this.sessionId, historyLength: workflowInfo().historyLength, runs: this.state.runs });
    return continueAsNew<typeof sessionWorkflow>({ ...this.input, initialEvents: undefined, mounts: undefined, carried: this.state });
  }

  async goIdle(stopReason: StopReason, leading: WorkflowEvent[] = [], { interrupted = false }: { interrupted?: boolean } = {}): Promise<void> {
    const { state } = this;
    state.phase = 'idle';
    state.turnActive = false;
    state.stepsInTurn = 0;
    state.lastStopReason = stopReason;
    await this.emit([...leading, ...this.statusEvents('idle', { stop_reason: stopReason, stop_details: null })]);
    // A thread's starter waits for its answer; waiting for the client is not an answer.
    if (this.thread && stopReason.type !== 'requires_action') await reportToParent(this, stopReason, { interrupted });
  }

  /** True when the session's sandbox tools run on a self-hosted environment's workers, not in a Longhaul sandbox. */
  get selfHosted(): boolean {
    return this.input.environment.self_hosted !== undefined;
  }

  /** Whether a tool call is answered by the self-hosted environment's worker (`user.tool_result`). */
  runsOnWorker(ref: ToolUseRef): boolean {
    return this.selfHosted && isSandboxToolCall(ref);
  }

  /**
   * New input (a message, settings, files) for the workflow: a model call running several
   * steps is asked to take no more, so the input reaches the next step. It asks the process
   * that runs the call; on another worker the call goes on to the end of its run of steps.
   */
  askStepsToYield(): void {
    const step = this.stepCall;
    if (step?.followOn === undefined || step.yieldAsked === true) return;
    step.yieldAsked = true;
    void CancellationScope.nonCancellable(() => this.activities.yieldSteps({ logId: step.logId, callKey: step.callKey })).catch((err: unknown) =>
      log.warn('asking a model call to stop after its step failed; it stops at the end of its run', { sessionId: this.sessionId, error: String(err) }),
    );
  }

  /** Puts a work item on the environment's queue unless the session has a live one, so a worker takes its calls. */
  async ensureWork(): Promise<void> {
    const environmentId = this.input.environment.self_hosted?.environment_id;
    if (environmentId === undefined) return;
    this.workReleased = false;
    await this.activities.ensureSelfHostedWork({ environmentId, sessionId: this.sessionId });
  }

  /** Starts the sandbox while the first model call is under way; tools wait for it. A self-hosted session has none. */
  warmSandbox(): Promise<void> {
    if (this.selfHosted) return Promise.resolve();
    this.sandboxWarm = true;
    this.sandboxReady ??= this.activities.ensureSandbox({ sessionId: this.sessionId, environment: this.input.environment, ...this.vaults() }).catch((err: unknown) => {
      // Tools provision on demand too; a failed warm-up only costs latency.
      log.warn('sandbox warm-up failed', { sessionId: this.sessionId, error: String(err) });
      this.sandboxReady = undefined;
    });
    return this.sandboxReady;
  }

  /**
   * Starts a new session's sandbox as the session begins, not with its first turn: a
   * client creates a session, opens its stream, then sends, and by then the container is
   * (nearly) ready. A session that gets no message gives it back after
   * `idleSandboxReleaseMs`, as any idle one does. Only the primary's first run: a thread
   * starts working at once, and a continued run's sandbox is already there. An agent
   * without sandbox tools gets none until something asks for it (file mounts, a tool
   * call after `sessions.update` gave it some).
   */
  startSandboxEarly(): void {
    if (this.thread !== undefined || this.input.carried !== undefined || this.selfHosted || !patched(PATCHES.sandboxAtSessionStart)) return;
    this.state.sandboxOnDemand = true;
    if (!this.agentUsesSandbox) return;
    this.sandboxStartedEarly = true;
    void this.warmSandbox();
  }

  /** Whether a turn starts the sandbox ahead of its tools: always in sessions begun before `sandboxOnDemand`. */
  get warmsSandboxPerTurn(): boolean {
    return this.state.sandboxOnDemand !== true || this.agentUsesSandbox;
  }

  /** Whether the agent, as it is now, has a tool that runs in the sandbox (an agent of MCP or custom tools alone has none). */
  get agentUsesSandbox(): boolean {
    return enabledAgentTools(this.agent.tools).some((name) => SANDBOX_TOOLS.has(name));
  }

  /**
   * Waits for the sandbox start under way, in a run that started one with the session
   * (`startSandboxEarly`): a release or removal would otherwise race it (a first image build
   * can outlast the idle timer, and a session can be deleted while its container starts).
   * Older runs never wait here, so their histories replay unchanged.
   */
  async earlySandboxStartSettled(): Promise<void> {
    if (this.sandboxStartedEarly) await this.sandboxReady;
  }

  async releaseSandbox(): Promise<void> {
    await this.earlySandboxStartSettled();
    await this.activities.releaseSandbox({ sessionId: this.sessionId });
    this.sandboxWarm = false;
    this.sandboxReady = undefined;
  }

  /**
   * Copies the files received so far into the sandbox. Files that cannot be
   * mounted (deleted since, say) are reported as a `session.error` and dropped:
   * the session goes on without them.
   */
  async mountPending(): Promise<void> {
    const { state, sessionId } = this;
    const files = [...(state.pendingMounts ?? [])];
    try {
      await this.activities.mountFiles({ sessionId, environment: this.input.environment, files, ...this.vaults() });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = failureMessage(err);
      log.warn('mounting files failed for good', { sessionId, error: cause });
      const paths = files.map((f) => f.mountPath).join(', ');
      await this.emit([this.event('session.error', { error: { type: 'unknown_error', message: `could not place ${paths} in the sandbox: ${cause}`, retry_status: { type: 'exhausted' } } })]);
    }
    // Files signalled while this ran stay for the next mount.
    state.pendingMounts = (state.pendingMounts ?? []).slice(files.length);
  }
}

function freshState(input: SessionWorkflowInput): CarriedState {
  return {
    schemaVersion: 1,
    emitCounter: 0,
    callCounter: 0,
    inbox: [...(input.initialEvents ?? [])],
    phase: 'idle',
    turnActive: false,
    stepsInTurn: 0,
    lastStopReason: null,
    usage: zeroUsage(),
    totalSteps: 0,
    runs: 0,
    costNanos: 0,
    budget: input.budget ?? null,
    budgetHalted: false,
    vaultIds: input.vaultIds ?? [],
    ...(input.mounts?.length ? { pendingMounts: [...input.mounts] } : {}),
  };
}
