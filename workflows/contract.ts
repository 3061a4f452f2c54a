/**
 * The contract between a session's workflows and everyone who talks to them: the task
 * queue, the workflow names, the signals and queries, the inputs and the state a run
 * carries into the next. The client and the API import this module, never the workflow
 * code or the worker.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AgentDefinition, McpServerDefinition } from '../src/schemas/agent.ts';
import type { TranscriptItem } from '../src/core/transcript.ts';
import type { EnvironmentDefinition } from '../src/schemas/environment.ts';
import type { OutcomeRubric, StopReason, UserDefineOutcomeEventParams, UserEventParams } from '../src/schemas/events.ts';
import type { Usage } from '../src/core/usage.ts';
import type { DelegationCall } from '../src/core/delegation.ts';
import type { BudgetLimit, SpendLimit } from '../src/core/budget.ts';

export type { Usage };

/**
 * A user event as the workflow receives it. `key`, when the sender sets it, names
 * the event in the log (its id derives from it), so a sender can answer with the
 * event's id before the workflow has taken it.
 */
export type InboundUserEvent = (Exclude<UserEventParams, { type: 'user.define_outcome' }> | InboundOutcome) & { key?: string | undefined };

/** A message from another thread of the session (a delegation or follow-up), as the receiving thread takes it. */
export type InboundThreadMessage = {
  type: 'thread.message';
  from_thread_id: string;
  from_agent_name: string;
  text: string;
  /** What the rest of the session had spent when this was sent (nano-dollars): the budget covers every thread. */
  spentElsewhereNanos?: number | undefined;
  /** Key of the sender's `agent.thread_message_sent` (a new thread records it, after its creation, in the sender's log). */
  sentKey?: string | undefined;
  key?: string | undefined;
};

/** A thread's answer (its turn ended), as the thread that started it takes it. */
export type InboundThreadReport = {
  type: 'thread.report';
  thread_id: string;
  agent_name: string;
  /** The thread's last answer text (what the agent said as it ended its turn). */
  text: string;
  /** The thread's totals so far. */
  usage: Usage;
  costNanos: number;
  /** The thread ended (archived, or its session ended) before it answered: it takes no more work. */
  terminated?: boolean | undefined;
  /** The thread was interrupted: its starter hears of it, but an idle starter does not start a turn for it. */
  interrupted?: boolean | undefined;
  key?: string | undefined;
};

/** Anything a session's or thread's inbox holds. */
export type InboundEvent = InboundUserEvent | InboundThreadMessage | InboundThreadReport;

/** A `user.define_outcome` as the session takes it: with the `outc_` id the client gave it. */
export type InboundOutcome = UserDefineOutcomeEventParams & { outcome_id: string };

/** The outcome the session works toward, and where its evaluation stands. */
export type OpenOutcome = {
  id: string;
  description: string;
  rubric: OutcomeRubric;
  maxIterations: number;
  /** The evaluation cycle the outcome is on (0-based). */
  iteration: number;
};

/** What the grader child workflow is given: the outcome, never the agent's transcript. */
export type GraderInput = {
  sessionId: string;
  storeId?: string | undefined;
  outcome: OpenOutcome;
  /** The model the grader uses: the agent's. */
  model: string;
  /** Heartbeat timeout of the grading activity: how long a dead worker holds it (the session's model-call timeout). */
  heartbeatTimeoutMs?: number | undefined;
  /** The session's environment and vaults: the grader reads the work in the session's sandbox. */
  environment: EnvironmentDefinition;
  vaultIds?: string[] | undefined;
};

/** What the grader learns when the turn ends (`gradeSignal`): what to read and what to record first. */
export type GradeRequest = {
  /** Transcript key of the agent's last answer: its text is the report the grader reads. */
  reportKey: string;
  /** Events the grader records before it starts: what the turn left to record, and the cycle's `span.outcome_evaluation_start`. */
  leading: WorkflowEvent[];
};

/** The grader's verdict on one evaluation cycle, with what its model requests cost. */
export type GradeResult = {
  result: 'satisfied' | 'needs_revision' | 'failed';
  explanation: string;
  usage: Usage;
  costNanos: number;
};

export type { BudgetLimit, SpendLimit };

/**
 * A tool call the model made, as the loop handles it. `kind` and `permission`
 * are absent in histories recorded before permissions existed: builtin, allowed.
 */
export type ToolUseRef = {
  /** The model's `toolu_…` id. */
  toolUseId: string;
  /** Id of the `agent.tool_use` / `agent.mcp_tool_use` / `agent.custom_tool_use` event. */
  eventId: string;
  /** The tool's name as the model called it. */
  name: string;
  kind?: 'builtin' | 'custom' | 'mcp' | 'delegation' | undefined;
  permission?: 'allow' | 'ask' | 'deny' | undefined;
  /** Why the `auto` policy denied the call. */
  denyReason?: string | undefined;
  /** A delegation tool's call (`kind: 'delegation'`): what the workflow is asked to do. */
  delegation?: DelegationCall | undefined;
  mcpServer?: McpServerDefinition | undefined;
  /** The tool's name on its MCP server. */
  mcpTool?: string | undefined;
};

export type SessionPhase = 'idle' | 'running' | 'rescheduling' | 'terminated';

/** Tuning knobs; defaults suit production, tests shrink them. */
export type SessionTuning = {
  /** Continue-as-new once a run's history has this many events (at a step boundary). Default 2000. */
  maxHistoryEvents?: number | undefined;
  /** Model-call attempts before the turn is abandoned. Default 8. */
  modelMaxAttempts?: number | undefined;
  /** Heartbeat timeout of model calls; bounds how long a crashed worker holds a call. Default 30 s. */
  modelHeartbeatTimeoutMs?: number | undefined;
  /** Heartbeat timeout of tool calls. Default 30 s. */
  toolHeartbeatTimeoutMs?: number | undefined;
  /** Wall-clock limit of one tool call when the model gives none. Default 10 min. */
  toolTimeoutMs?: number | undefined;
  /**
   * How long an idle session keeps its sandbox container before releasing it
   * (its /workspace volume stays; the next tool call starts a new container). Default 15 min.
   */
  idleSandboxReleaseMs?: number | undefined;
  /** Max model calls in one turn before it stops. Default 1000. */
  maxStepsPerTurn?: number | undefined;
  /**
   * Most steps one model-call activity takes back to back while nothing needs the workflow
   * (every tool call ran in the step; no new input, interrupt or budget stop). Default 8;
   * 1 makes every step an activity of its own.
   */
  stepsPerActivity?: number | undefined;
};

/**
 * State carried across continue-as-new. Plain JSON only; `schemaVersion`
 * guards the shape, and saved fixtures of older versions must keep loading.
 */
export type CarriedState = {
  schemaVersion: 1;
  /** Counter behind the keys of events the workflow itself emits. */
  emitCounter: number;
  /** Counter behind model-call keys. */
  callCounter: number;
  /** User events (and messages from other threads) received and not yet handled. */
  inbox: InboundEvent[];
  phase: SessionPhase;
  /** Set when a run continued-as-new in the middle of a turn. */
  turnActive: boolean;
  stepsInTurn: number;
  lastStopReason: StopReason | null;
  usage: Usage;
  totalSteps: number;
  runs: number;
  /** List cost so far, in nano-dollars (absent before budgets existed). */
  costNanos?: number | undefined;
  /** The current budget; `undefined` means the input's. */
  budget?: SpendLimit | null | undefined;
  /** The agent as `sessions.update` last changed it (tools, MCP servers); `undefined` means the input's. */
  agent?: AgentDefinition | undefined;
  /** Set when a turn stopped at the budget: raising it resumes the turn. */
  budgetHalted?: boolean | undefined;
  /** The session's vaults; `undefined` means the input's. */
  vaultIds?: string[] | undefined;
  /** Files received and not yet copied into the sandbox (absent before file mounts moved to the workflow). */
  pendingMounts?: FileMount[] | undefined;
  /** The outcome being worked toward; absent when there is none (or it reached a verdict). */
  outcome?: OpenOutcome | undefined;
  /** Threads this workflow started, by thread id, in the order started (absent: none). */
  threads?: Record<string, ChildThread> | undefined;
  /** What the rest of the session had spent when this thread last heard from its parent (threads only). */
  spentElsewhereNanos?: number | undefined;
  /**
   * Model-call keys below this number were handed to an activity that may have used them
   * without reporting it (a run of steps that failed, was cancelled, or stopped early): a
   * call with one of them looks for its stored answer first. Absent: none.
   */
  callsHanded?: number | undefined;
  /**
   * Set in sessions begun since the sandbox starts with the session: a turn starts the
   * sandbox ahead of its tools only when the agent has sandbox tools; otherwise a tool call
   * starts it on demand. Absent: every turn starts it.
   */
  sandboxOnDemand?: boolean | undefined;
};

/** A thread a workflow started, as the starter tracks it. */
export type ChildThread = {
  agentName: string;
  /** `running` from the message that gave it work until its report. */
  status: 'running' | 'idle' | 'terminated';
  usage: Usage;
  costNanos: number;
};

/** Who a thread is: what the session workflow's input carries when it runs a thread rather than the primary. */
export type ThreadIdentity = {
  /** The thread's `sthr_` id: its workflow id and the id of its event log. */
  id: string;
  /** The thread that started it, and that thread's workflow id (the session's own for the primary). */
  parentThreadId: string;
  parentWorkflowId: string;
  agentName: string;
  /** The roster member it runs. */
  agentId: string;
  agentVersion: number;
  /** 1 for a thread the primary started, 2 for one that thread started, … */
  depth: number;
};

/** An uploaded file to copy into the session's sandbox, and where. */
export type FileMount = {
  fileId: string;
  /** Absolute path under `/workspace` or `/mnt/session`, already validated. */
  mountPath: string;
  sizeBytes: number;
};

/** What `settingsSignal` changes; absent fields stay as they are. */
export type SessionSettings = {
  budget?: SpendLimit | null | undefined;
  vaultIds?: string[] | undefined;
  /** The primary's agent from its next model request on (its threads keep their own). */
  agent?: AgentDefinition | undefined;
};

export type SessionWorkflowInput = {
  sessionId: string;
  /**
   * Identity of the store the session lives in (`SessionStore.storeId`). Every activity
   * carries it, and a worker on another store refuses the work. Absent for sessions
   * started before stores had one.
   */
  storeId?: string | undefined;
  agent: AgentDefinition;
  environment: EnvironmentDefinition;
  /** Events to handle as soon as the session starts (e.g. the first user.message). */
  initialEvents?: InboundEvent[] | undefined;
  /** Vaults whose credentials MCP calls and the sandbox egress proxy may use. */
  vaultIds?: string[] | undefined;
  budget?: SpendLimit | null | undefined;
  /** Files to place in the sandbox before the first model call (the session's file resources). */
  mounts?: FileMount[] | undefined;
  tuning?: SessionTuning | undefined;
  carried?: CarriedState | undefined;
  /**
   * Multi-agent sessions: the primary thread's `sthr_` id (the session's own thread status
   * events name it). Absent for single-agent sessions, which record no thread events.
   */
  primaryThreadId?: string | undefined;
  /** Set when this run is a thread (a child of the session), not the session's primary. */
  thread?: ThreadIdentity | undefined;
  /**
   * The session is a step of another workflow (`runAgentSession`): it ends when its first
   * turn does, as if terminated, and its workflow returns the turn's `SessionResult`.
   * Absent: the session lives on between turns until it is terminated.
   */
  endAfterTurn?: boolean | undefined;
};

/** What a session run as a step (`endAfterTurn`) returns: how its turn ended and what it said. */
export type SessionResult = {
  sessionId: string;
  /** The agent's last answer text (empty when it said nothing). */
  text: string;
  stopReason: StopReason;
  /** Tokens over the whole session, its threads' included. */
  usage: Usage;
  /** List cost in nano-dollars (1e-9 USD), its threads' included. */
  costNanos: number;
};

/** Failure type of a step's session (`endAfterTurn`) that was terminated before its turn ended. */
export const SESSION_TERMINATED = 'SessionTerminated';

/** Failure type of a step's session whose agent or environment does not parse: retrying cannot help. */
export const STEP_SESSION_INVALID = 'StepSessionInvalid';

/** What the `status` query answers. */
export type SessionStatus = {
  phase: SessionPhase;
  stopReason: StopReason | null;
  usage: Usage;
  totalSteps: number;
  runs: number;
  inboxSize: number;
  costNanos: number;
  /** Event ids of tool calls waiting for `user.tool_confirmation` / `user.custom_tool_result`. */
  awaiting: string[];
};

/** A workflow-made event: its key makes persistence idempotent. */
export type WorkflowEvent = {
  key: string;
  event: { type: string } & Record<string, unknown>;
  transcript?: TranscriptItem | undefined;
  /**
   * Fields that name another event of the session by its id, given here by its key (a
   * workflow cannot derive ids; the writer does): `{ outcome_evaluation_start_id: '<key>' }`.
   */
  idsOf?: Record<string, string> | undefined;
  /** The log the event goes to when not the writer's own: a thread's events cross-posted to the session's primary log. */
  log?: string | undefined;
};

/** What the store keeps of a thread besides its log (`SessionThread` is built from both): written by its starter as it reserves it. */
export type ThreadRecord = {
  id: string;
  sessionId: string;
  parentThreadId: string;
  agentId: string;
  agentVersion: number;
  agentName: string;
};

/**
 * What ending a session removes besides its container (the `longhaul.terminate` signal's
 * argument; absent in signals sent before it existed: nothing more).
 */
export type SessionRemoval = {
  /** The session's `/workspace` and `/mnt/session` and its host folder (archive and delete). */
  workspace?: boolean | undefined;
  /** Every row of the session in the store: events, transcript, content (delete). */
  records?: boolean | undefined;
};

/** The task queue sessions run on unless a deployment names another. */
export const DEFAULT_TASK_QUEUE = 'longhaul';

/** Workflow type names, as the worker registers them (the exported function names). */
export const SESSION_WORKFLOW = 'sessionWorkflow';
export const SESSION_CLEANUP_WORKFLOW = 'sessionCleanupWorkflow';
export const OUTCOME_GRADER_WORKFLOW = 'outcomeGraderWorkflow';
export const THREAD_WORKFLOW = 'threadWorkflow';
export const DEPLOYMENT_RUN_WORKFLOW = 'deploymentRunWorkflow';
export const WEBHOOK_DELIVERY_WORKFLOW = 'webhookDeliveryWorkflow';
export const DREAM_WORKFLOW = 'dreamWorkflow';

/** One dream, run as a session of its own; the workflow id is the dream's id. */
export type DreamWorkflowInput = { dreamId: string; storeId: string };

export const SCHEDULED_DREAM_WORKFLOW = 'scheduledDreamWorkflow';

/**
 * One fire of a memory store's dream schedule: what the dream is to be. The Schedule's
 * action carries it, so the Schedule is the whole record of the dream schedule.
 */
export type ScheduledDreamInput = {
  storeId: string;
  memoryStoreId: string;
  model: string;
  instructions: string | null;
  outputBehavior: 'create_new' | 'update_existing';
};

/**
 * One run of a deployment. A Schedule starts it with `deploymentId` only (the run's
 * id and scheduled time come from the workflow id Temporal gives each fire); a
 * manual run, already created by the API, names its `runId`.
 */
export type DeploymentRunInput = { deploymentId: string; storeId: string; runId?: string | undefined };

/** How a webhook delivery is retried before its endpoint is reported dead. */
export type WebhookRetry = { initialIntervalMs: number; maximumIntervalMs: number; maximumAttempts: number };

/** One event to one endpoint, retried with backoff; the workflow id is `webhook:<delivery id>`. */
export type WebhookDeliveryInput = {
  storeId: string;
  deliveryId: string;
  endpointId: string;
  /** The `BetaWebhookEvent` as JSON: signed and sent as is on every attempt. */
  body: string;
  retry?: WebhookRetry | undefined;
};

/** Where a run's session stands: still working, or settled one way or the other. */
export type DeploymentRunProgress = 'working' | 'succeeded' | 'failed';


/** User events (`user.message`, `user.interrupt`) for the session. */
export const userEventsSignal = defineSignal<[InboundUserEvent[]]>('longhaul.userEvents');
/** Ends the session: `session.status_terminated`, sandbox removed (and, as asked, its workspace and records). */
export const terminateSignal = defineSignal<[SessionRemoval?]>('longhaul.terminate');
/**
 * Changes the session's settings: `budget` (`null` lifts it; raising it resumes a
 * turn stopped at the budget) and `vaultIds` (used from the next tool call on).
 */
export const settingsSignal = defineSignal<[SessionSettings]>('longhaul.settings');
/** Files to copy into the sandbox: before the next model call, or at once when idle. */
export const mountFilesSignal = defineSignal<[FileMount[]]>('longhaul.mountFiles');
/** A self-hosted environment's work item of the session was stopped: a session still waiting on tool calls queues another. */
export const workReleasedSignal = defineSignal('longhaul.workReleased');
export const statusQuery = defineQuery<SessionStatus>('longhaul.status');
/** Messages between threads: delegations and follow-ups to a thread, reports back to its starter. */
export const threadEventsSignal = defineSignal<[(InboundThreadMessage | InboundThreadReport)[]]>('longhaul.threadEvents');
/** Tells a waiting grader child that its turn ended: grade now. */
export const gradeSignal = defineSignal<[GradeRequest]>('longhaul.grade');
