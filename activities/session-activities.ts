import type Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { EnvironmentDefinition } from '../src/schemas/environment.ts';
import type { FileContentReader } from '../src/store/file-store.ts';
import type { SessionStore } from '../src/store/session-store.ts';
import type { SandboxDriver } from '../sandbox/types.ts';
import type { GradeRequest, GradeResult, GraderInput, OpenOutcome, Usage, WorkflowEvent } from '../workflows/contract.ts';
import { callModel, type CallModelInput, type SeenToolInputs } from './model/call-model.ts';
import { runSteps, type StepResult, type StepsInput, type StepsReport } from './model/run-steps.ts';
import { DEFAULT_STEP_ADMISSION, opensTurn, StepAdmission, type StepAdmissionOptions } from './model/step-admission.ts';
import { billedUsage, gradeOutcome, gradingCycleKey } from './model/grade-outcome.ts';
import { mountFiles, type MountFilesInput } from './mount-files.ts';
import { ensureSessionSandbox, permanentStartFailure, runTool, type RunToolInput, type RunToolResult } from './run-tool.ts';
import type { WebSearchProvider } from './web-tools.ts';
import type { McpGateway } from './mcp-gateway.ts';
import type { CredentialResolver } from '../src/vaults/credential-resolver.ts';
import { TranscriptCache } from './model/transcript-cache.ts';
import { InterruptibleCalls } from './model/interruptible-calls.ts';
import type { MemorySync } from './memory-sync.ts';
import type { SkillMounts } from './skill-mounts.ts';
import { appendWorkflowEvents } from './workflow-events.ts';
import { runsInStep, runToolsInStep, type StepToolsInput } from './step-tools.ts';
import { modelId } from '../src/core/model-id.ts';
import { recordStep, secondsSince, whileSessionBusy } from '../src/telemetry/metric-instruments.ts';

export type SessionActivityDeps = {
  store: SessionStore;
  sandboxes: SandboxDriver;
  /** Anthropic client with `maxRetries: 0`: Temporal is the only retry authority. */
  anthropic: Anthropic;
  /** `max_tokens` of each model request. Default 16000. */
  maxTokens?: number;
  webSearch?: WebSearchProvider | undefined;
  /** How often long activities heartbeat. Default 1000 ms. */
  heartbeatEveryMs?: number;
  /**
   * The model's context window, in tokens. Default 200 000. Anthropic's server-side
   * compaction is asked to compact at three quarters of it (50 000 at least, the least
   * the API takes); the byte budget below follows it unless set.
   */
  contextWindowTokens?: number;
  /**
   * Transcript size (bytes of JSON) a request stays within: past it the oldest tool
   * outputs are cleared, and when that is not enough the oldest turns are replaced by
   * a model-written summary (unless the endpoint compacts, see `serverCompaction`).
   * Default three bytes per token of `contextWindowTokens` (600 000 for 200k tokens).
   */
  contextBudgetBytes?: number;
  /**
   * Let the endpoint compact long conversations itself (Anthropic's server-side
   * compaction, a beta): its answers then carry `compaction` blocks, kept and sent back
   * verbatim. Default: on when the client talks to api.anthropic.com, off for other
   * endpoints (then Longhaul asks the model for summaries itself).
   */
  serverCompaction?: boolean;
  /**
   * Send web_search / web_fetch to the model as Anthropic's server-side tools
   * (the endpoint runs them). Default: on when the client talks to
   * api.anthropic.com, off for other endpoints (then the worker runs them).
   */
  serverWebTools?: boolean;
  /** Uploaded files' bytes (the store the API keeps them in), for `mountFiles`; without it that activity fails. */
  files?: FileContentReader | undefined;
  /** Reaches agents' MCP servers; without it MCP toolsets report `session.error`. */
  mcp?: McpGateway | undefined;
  /** Vault credentials: `environment_variable` secrets for the sandboxes' egress proxies. */
  credentials?: Pick<CredentialResolver, 'environmentSecrets'> | undefined;
  /** Model the outcome grader uses; default: the session agent's own. */
  graderModel?: string | undefined;
  /** Memory stores: mounted in sandboxes, synced around tool calls, named in the system prompt. */
  memory?: MemorySync | undefined;
  /** Skills: the versions a session pinned, placed read-only at /mnt/skills wherever its sandbox is made ready. */
  skills?: SkillMounts | undefined;
  /**
   * Turns' first steps before other sessions' later steps (`StepAdmission`); `false` runs
   * every step at once. Default `DEFAULT_STEP_ADMISSION`.
   */
  stepAdmission?: StepAdmissionOptions | false;
};

/**
 * The session's side effects. Built from explicit dependencies so nothing is
 * constructed at import time and tests can hand in their own store or driver.
 */
export function createSessionActivities({
  store,
  sandboxes,
  anthropic,
  maxTokens = 16_000,
  webSearch,
  heartbeatEveryMs = 1000,
  contextWindowTokens = 200_000,
  contextBudgetBytes = 3 * contextWindowTokens,
  serverWebTools = isAnthropicApi(anthropic),
  serverCompaction = isAnthropicApi(anthropic),
  files,
  mcp,
  credentials,
  graderModel,
  memory,
  skills,
  stepAdmission = DEFAULT_STEP_ADMISSION,
}: SessionActivityDeps) {
  const transcripts = new TranscriptCache();
  const admission = stepAdmission === false ? undefined : new StepAdmission(stepAdmission);
  const interruptible = new InterruptibleCalls();
  // A yield or an interrupt asked on another worker reaches the call that runs here (`yieldSteps`, `interruptTools`).
  store.onRunningCallRequest((request, logId, callKey) => {
    if (request === 'yield') interruptible.yieldAfterStep(logId, callKey);
    else interruptible.interrupt(logId, callKey);
  });
  const toolDeps = { store, sandboxes, webSearch, heartbeatEveryMs, mcp, credentials, memory, skills };
  const sandboxDeps = { sandboxes, credentials, memory, skills };
  // Below the window by a quarter: room for the answer, and for the turn the compaction is asked in.
  const compaction = serverCompaction ? { triggerTokens: Math.floor(contextWindowTokens * 0.75) } : undefined;
  const modelDeps = { store, anthropic, maxTokens, heartbeatEveryMs, contextBudgetBytes, serverCompaction: compaction, serverWebTools, transcripts, mcp, memory };

  /** A step as `admission` lets it run: a turn's first at once, a later one perhaps after a wait. */
  function admitStep(input: CallModelInput & { tools?: StepToolsInput | undefined }, interrupted: AbortSignal): Promise<StepResult> {
    if (admission === undefined) return runStep(input, interrupted);
    return admission.run(opensTurn(input.leading), () => runStep(input, interrupted), [interrupted, Context.current().cancellationSignal]);
  }

  /** One step: the model request, then its tool calls when none needs an answer. */
  async function runStep(input: CallModelInput & { tools?: StepToolsInput | undefined }, interrupted: AbortSignal): Promise<StepResult> {
    const startedAt = performance.now();
    const seen: SeenToolInputs = new Map();
    const result = await callModel(modelDeps, input, { interrupted, seen });
    const { tools } = input;
    const step = tools === undefined || !runsInStep(result.toolUses) || Context.current().info.attempt >= input.maxAttempts ? result : { ...result, ...(await runToolsInStep(toolDeps, tools, result.toolUses, seen)) };
    recordStep(secondsSince(startedAt), { 'gen_ai.request.model': modelId(input.agent.model), 'longhaul.step.tools_in_step': step !== result });
    return step;
  }

  /**
   * Stops a model call's request if this process runs it, and names the tool calls of the step
   * it is on; run elsewhere, those of every step it may have reached (`followOn`).
   */
  async function runningStepToolUseIds(step: { logId: string; callKey: string; followOn?: string[] }): Promise<string[]> {
    const current = interruptible.interrupt(step.logId, step.callKey);
    // Not running here, it may run on another worker: that one stops it when it hears this.
    if (current === undefined) await store.askRunningCall('interrupt', step.logId, step.callKey);
    const callKeys = current !== undefined ? [current] : [step.callKey, ...(step.followOn ?? [])];
    const ids = await Promise.all(callKeys.map((callKey) => stepToolUseIds(store, { logId: step.logId, callKey })));
    return ids.flat();
  }
  return {
    /**
     * One model request and, given `tools`, the step's tool calls when they need no one's
     * answer (`runsInStep`). Not on the last attempt: a call that keeps failing here must
     * still get the tool's own retries, as its own activity. Given `followOn`, the steps
     * after it too, while nothing needs the workflow (`runSteps`).
     */
    callModel: (input: StepsInput): Promise<StepResult & { steps?: StepsReport }> =>
      whileSessionBusy(input.sessionId, () => interruptible.run(input.sessionId, input.callKey, (call) => runSteps(input, call, (step) => admitStep(step, call.interrupted)))),

    runTool: (input: RunToolInput): Promise<RunToolResult> => whileSessionBusy(input.sessionId, () => runTool(toolDeps, input)),

    /** What an evaluation cycle's grader requests were billed so far (an interrupted cycle's, which returned no verdict). */
    gradingUsage: ({ sessionId, outcome, model }: { sessionId: string; outcome: OpenOutcome; model: string }): Promise<{ usage: Usage; costNanos: number }> =>
      billedUsage(store, sessionId, gradingCycleKey(outcome), graderModel ?? model),

    /** One outcome evaluation cycle: the grader's verdict, in a context of its own. */
    gradeOutcome: (input: GraderInput & GradeRequest): Promise<GradeResult> => gradeOutcome({ store, anthropic, files, heartbeatEveryMs, graderModel, ...sandboxDeps }, input),

    /** Persists workflow-made events; idempotent by key. */
    async emitEvents({ sessionId, events }: { sessionId: string; events: WorkflowEvent[] }): Promise<void> {
      await appendWorkflowEvents(store, sessionId, events);
    },

    async ensureSandbox({ sessionId, environment, vaultIds }: { sessionId: string; environment: EnvironmentDefinition; vaultIds?: string[] }): Promise<void> {
      const ctx = Context.current();
      const heartbeat = setInterval(() => ctx.heartbeat(), heartbeatEveryMs);
      try {
        await ensureSessionSandbox(sandboxDeps, sessionId, environment, vaultIds);
      } catch (err) {
        // Retried, a missing image fails for ever, and whatever waits for the start (a tool, a release, a removal) with it.
        // The tool call that needs the sandbox reports it to the model and the log.
        const permanent = permanentStartFailure(err);
        if (permanent) throw ApplicationFailure.nonRetryable(`the sandbox cannot start: ${permanent.message}`, 'SandboxStartFailed');
        throw err;
      } finally {
        clearInterval(heartbeat);
      }
    },

    /** Copies uploaded files from the store into the session's sandbox volumes. */
    async mountFiles(input: MountFilesInput): Promise<void> {
      if (files === undefined) throw ApplicationFailure.nonRetryable('this worker has no file store: it cannot mount files', 'FilesUnavailable');
      await mountFiles({ ...sandboxDeps, files }, input);
    },

    /**
     * Kills tool calls' processes in the session's sandbox (an interrupt; their calls then end
     * at once): the given ones, and those of `step`, a model call running its step's tools;
     * stops `step`'s model request if it still streams in this process. A call that may take
     * more steps (`step.followOn`) is on one of them: this process knows which; elsewhere,
     * the tool calls of every step it may have reached are killed.
     */
    async interruptTools({
      sessionId,
      environment,
      toolUseIds,
      vaultIds,
      step,
    }: {
      sessionId: string;
      environment: EnvironmentDefinition;
      toolUseIds: string[];
      vaultIds?: string[];
      step?: { logId: string; callKey: string; followOn?: string[] };
    }): Promise<void> {
      // A model call still streaming stops now if it streams here; its tools, if it got that far, are killed below.
      const stepIds = step === undefined ? [] : await runningStepToolUseIds(step);
      const ids = [...toolUseIds, ...stepIds];
      if (ids.length === 0) return;
      const sandbox = await ensureSessionSandbox(sandboxDeps, sessionId, environment, vaultIds);
      await Promise.all(ids.map((id) => sandbox.cancelTool(id)));
    },

    /**
     * New input for the workflow: a model call running several steps (`runSteps`) takes no
     * step after the one it is on. Eager dispatch mostly brings this activity to the worker
     * that runs the call; when another worker picks it up, every worker on the store hears it.
     */
    async yieldSteps({ logId, callKey }: { logId: string; callKey: string }): Promise<void> {
      if (!interruptible.yieldAfterStep(logId, callKey)) await store.askRunningCall('yield', logId, callKey);
    },

    /** Queues a work item on the session's self-hosted environment unless it has a live one: a worker then answers its tool calls. */
    async ensureSelfHostedWork({ environmentId, sessionId }: { environmentId: string; sessionId: string }): Promise<{ workId: string }> {
      const work = await store.work.ensureForSession(environmentId, sessionId);
      return { workId: work.id };
    },

    /** Removes the session's container but keeps its /workspace volume. */
    async releaseSandbox({ sessionId }: { sessionId: string }): Promise<void> {
      await sandboxes.destroy(sessionId, { removeVolume: false });
    },

    async destroySandbox({ sessionId, removeVolume }: { sessionId: string; removeVolume: boolean }): Promise<void> {
      await sandboxes.destroy(sessionId, { removeVolume });
    },

    /** Deletes every row the session has in the store (it was deleted through the API). */
    async purgeSessionRecords({ sessionId }: { sessionId: string }): Promise<void> {
      await store.deleteSession(sessionId);
    },
  };
}

export type SessionActivities = ReturnType<typeof createSessionActivities>;

/** Whether the client talks to Anthropic's own API, which runs server tools and compaction itself. */
function isAnthropicApi(anthropic: Anthropic): boolean {
  return new URL(anthropic.baseURL).hostname === 'api.anthropic.com';
}

/** The tool calls a model call asked for, once its answer is recorded (none before). */
async function stepToolUseIds(store: SessionStore, { logId, callKey }: { logId: string; callKey: string }): Promise<string[]> {
  const answer = await store.getTranscriptItem(logId, `assistant:${callKey}`);
  if (answer?.kind !== 'assistant') return [];
  return answer.content.flatMap((block) => (block.type === 'tool_use' ? [block.id] : []));
}
