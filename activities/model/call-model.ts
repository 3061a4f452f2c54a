import type Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { AttemptUsage, NewEvent, SessionStore } from '../../src/store/session-store.ts';
import { deterministicId } from '../../src/store/ids.ts';
import type { AgentDefinition } from '../../src/schemas/agent.ts';
import { modelId } from '../../src/core/model-id.ts';
import { autoPermissionRule, type AutoVerdict } from '../../src/core/auto-permission-rules.ts';
import { mcpToolsetsOf, toolRoutes, type McpToolDescription, type ToolRoute } from '../../src/core/tool-routing.ts';
import type { SpendLimit, ToolUseRef, Usage, WorkflowEvent } from '../../workflows/contract.ts';
import { mcpSessionError, type McpGateway } from '../mcp-gateway.ts';
import { judgeToolCall } from './judge-tool-call.ts';
import { previewPublisher } from './preview-publisher.ts';
import { classifyModelError } from './classify-model-error.ts';
import { buildModelRequest } from './model-request.ts';
import type { MemorySync } from '../memory-sync.ts';
import { answerEvents } from './server-tool-events.ts';
import { answerInContext, CompactionLimitReached } from './answer-in-context.ts';
import { fitContext } from './fit-context.ts';
import { streamModelAnswer } from './model-stream.ts';
import type { AnswerBlock } from '../../src/core/transcript.ts';
import type { TranscriptCache } from './transcript-cache.ts';
import { appendWorkflowEvents } from '../workflow-events.ts';
import { errorTypeOf, inSpan } from '../../src/telemetry/trace-spans.ts';
import { recordModelCall, recordModelError, secondsSince } from '../../src/telemetry/metric-instruments.ts';
import { modelRequestAttributes, modelResponseAttributes } from '../../src/telemetry/gen-ai-attributes.ts';
import { AttemptUsageRecorder, billedUsageOfCall } from './attempt-usage.ts';
import { sumUsage, usageFrom, usageSnapshot, zeroUsage } from '../../src/core/usage.ts';
import { DELEGATION_TOOLS, MAX_THREADS_PER_SESSION, THREAD_LIMIT_REFUSAL, depthRefusal, parseDelegation, rosterMemberFor, unknownAgentRefusal } from '../../src/core/delegation.ts';
import { apiBudgetOf, budgetReached } from '../../src/core/budget.ts';
import { isSandboxToolCall } from '../../src/core/agent-toolset.ts';

export type CallModelInput = {
  sessionId: string;
  /** Unique per model call in the session; keys every event the call produces. */
  callKey: string;
  agent: AgentDefinition;
  /** Workflow events to persist before the call (user messages, status). */
  leading: WorkflowEvent[];
  maxAttempts: number;
  /** Vaults for MCP credentials. */
  vaultIds?: string[] | undefined;
  /** The session's totals before this call: the `session.usage` event reports them plus this call. */
  spent?: { usage: Usage; costNanos: number } | undefined;
  budget?: SpendLimit | null | undefined;
  /**
   * Set when the call is a thread's (`sessionId` is then the thread's log): calls that
   * wait for the client are cross-posted to the session's log, and the answer's text is
   * returned for the thread's report.
   */
  thread?: { sessionId: string; threadId: string } | undefined;
  /** Set when a self-hosted environment's worker runs the sandbox tools: a thread's calls of them go to the session's log too. */
  selfHosted?: boolean | undefined;
  /**
   * Set in multi-agent sessions: the budget holds the whole session (every thread's own
   * spending, as the store has it), the primary's `session.usage` reports the session's
   * totals, and this log's own totals are recorded for the others.
   */
  multiagent?: { sessionId: string; threadId: string; depth: number } | undefined;
  /** Set for a session run as a step (`endAfterTurn`): the answer's text is returned, for the step's result. */
  answerText?: boolean | undefined;
  /**
   * Set when an earlier activity may have made this call (a run of steps that stopped before
   * it, or failed on it): its stored answer is looked for first, and its attempts are
   * numbered on from that activity's.
   */
  mayBeAnswered?: boolean | undefined;
};


export type CallModelResult = {
  stopReason: string | null;
  toolUses: ToolUseRef[];
  /** Every request of the call the endpoint answered: its attempts (failed ones too) and their permission judgements. */
  usage: Usage;
  /** List cost of `usage`, in nano-dollars. */
  costNanos?: number;
  /** A thread's or a step's call: the answer's text blocks, joined (what the thread reports, or the step returns, when this answer ends its turn). */
  text?: string;
  /** The session's budget was spent (by all its threads together) before this call: no request was made. */
  budgetReached?: boolean;
  /**
   * An interrupt stopped the call before the model answered (`InterruptibleCalls`): nothing
   * of it is recorded but its span, as when Temporal cancels it. Only when the workflow asked.
   */
  interrupted?: boolean;
};

export type CallModelDeps = {
  store: SessionStore;
  anthropic: Anthropic;
  maxTokens: number;
  /** Bytes of transcript (as JSON) a request stays within: old tool outputs are cleared past it, then older turns summarised. */
  contextBudgetBytes: number;
  /** Anthropic's server-side compaction, when the endpoint offers it: the input tokens past which the endpoint compacts. */
  serverCompaction?: { triggerTokens: number } | undefined;
  /** Use Anthropic's server-side web_search / web_fetch instead of the worker's. */
  serverWebTools: boolean;
  transcripts: TranscriptCache;
  /** How often a streaming call heartbeats when the model is silent. */
  heartbeatEveryMs: number;
  mcp?: McpGateway | undefined;
  /** Names the session's memory stores in the system prompt. */
  memory?: Pick<MemorySync, 'prompt'> | undefined;
};

/** What the caller of `callModel` may add: an interrupt that reached this process, and a map for the answer's tool inputs. */
export type CallModelOptions = {
  /** Aborted by an interrupt that reached this process first (`InterruptibleCalls`). */
  interrupted?: AbortSignal | undefined;
  /** Filled with the inputs of the tool calls a fresh answer asked for. */
  seen?: SeenToolInputs | undefined;
};

/** How one tool_use block is handled: its route and, for routed tools, the permission decision. */
type ToolDecision = {
  route: ToolRoute | undefined;
  permission: 'allow' | 'ask' | 'deny';
  evaluation: { type: 'always_allow' } | { type: 'always_ask' } | { type: 'auto'; evaluated_permission: AutoVerdict };
};

/**
 * One model request. Idempotent per `callKey`: the answer and the events it
 * yields are stored in one transaction, and a retry after that returns the
 * stored answer without calling the model again. The usage it returns is what the
 * endpoint billed for the call: every attempt it answered, not only the last.
 */
export async function callModel(deps: CallModelDeps, input: CallModelInput, { interrupted, seen }: CallModelOptions = {}): Promise<CallModelResult> {
  const model = modelId(input.agent.model);
  const startedAt = performance.now();
  return inSpan(`chat ${model}`, modelRequestAttributes({ model, sessionId: input.sessionId }), async (span) => {
    let result: CallModelResult;
    try {
      const cancelled = Context.current().cancellationSignal;
      result = await callModelUntil(deps, input, interrupted ? AbortSignal.any([cancelled, interrupted]) : cancelled, seen);
    } catch (error) {
      recordModelCall({ model, seconds: secondsSince(startedAt), errorType: failedRequestTypes.get(error as object) ?? errorTypeOf(error) });
      throw error;
    }
    span.setAttributes(modelResponseAttributes(result));
    recordModelCall({ model, seconds: secondsSince(startedAt), usage: result.usage, costNanos: result.costNanos });
    return result;
  });
}

/**
 * The endpoint's error type (`overloaded_error`, …) of each failure `callModelUntil` threw for
 * a failed request, for the duration metric's `error.type`: the failure's own type
 * (`ModelRequestFailed`) is Temporal's retry class and says nothing of what the endpoint said.
 */
const failedRequestTypes = new WeakMap<object, string>();

/** The inputs of the tool calls a fresh answer asked for, by `toolu_…` id: the step's own tool calls need not read them back. */
export type SeenToolInputs = Map<string, Record<string, unknown>>;

/** `callModel`, stopped by `stop`: Temporal's cancellation, or an interrupt that reached this process first. */
async function callModelUntil(deps: CallModelDeps, input: CallModelInput, stop: AbortSignal, seen: SeenToolInputs | undefined): Promise<CallModelResult> {
  const { store } = deps;
  const { sessionId, callKey } = input;
  const ctx = Context.current();
  // Attempts are numbered per call: on from the last one recorded when another activity may have tried it.
  const attempt = input.mayBeAnswered === true ? await nextAttemptOf(store, sessionId, callKey) : ctx.info.attempt;

  await appendWorkflowEvents(store, sessionId, input.leading);

  const model = modelId(input.agent.model);

  // Only a retry (or a call an earlier activity may have made) can find its answer already stored.
  if (attempt > 1) {
    const answered = await store.getTranscriptItem(sessionId, `assistant:${callKey}`);
    if (answered?.kind === 'assistant') {
      const billed = await billedUsageOfStoredCall(store, sessionId, callKey, { before: attempt, model });
      const toolUses = await storedToolUses(store, sessionId, callKey, answered.content, input.agent);
      await crossPostWaitingCalls(store, input, toolUses);
      await reserveThreads(store, input, toolUses);
      await recordSpend(store, input, billed);
      return { stopReason: answered.stop_reason, toolUses, usage: billed.usage, costNanos: billed.costNanos, ...textOf(input, answered.content) };
    }
    // The earlier attempts are over: what they were billed is fixed from here on.
    const earlier = await store.finalizeAttemptUsage(sessionId, callKey, { beforeAttempt: attempt });
    await closeSpansOfCrashedAttempts(store, sessionId, callKey, earlier);
  }
  const elsewhere = input.multiagent ? await store.threads.spent(input.multiagent.sessionId, { exceptLogId: sessionId }) : undefined;
  if (elsewhere && input.spent && budgetReached(input.budget, input.spent.costNanos + elsewhere.costNanos)) {
    return { stopReason: null, toolUses: [], usage: zeroUsage(), costNanos: 0, budgetReached: true };
  }
  const [start] = await store.append(sessionId, [{ key: `${callKey}:a${attempt}:start`, event: { type: 'span.model_request_start' } }]);
  const startId = start!.event.id;
  const billing = new AttemptUsageRecorder({ store, sessionId, callKey, attempt, log: ctx.log });

  const mcpTools = await discoverMcpTools(deps, input, attempt, stop);
  const memoryPrompt = await deps.memory?.prompt(input.thread?.sessionId ?? input.multiagent?.sessionId ?? sessionId);

  // A timer, not every stream event: liveness and cancellation only need a steady beat,
  // and a heartbeat per event costs a server round trip on short calls. It also covers
  // the summary requests a compaction makes before the model request.
  // The usage reported since the last beat is recorded on the same tick.
  const heartbeat = setInterval(() => {
    ctx.heartbeat();
    billing.flush();
  }, deps.heartbeatEveryMs);
  try {
    const previews = previewPublisher({ previews: store.previews, sessionId, callKey });
    const message = await answerInContext({
      budgetBytes: deps.contextBudgetBytes,
      serverCompaction: deps.serverCompaction !== undefined,
      signal: stop,
      fit: ({ budgetBytes, summarize }) =>
        fitContext({
          store,
          anthropic: deps.anthropic,
          transcripts: deps.transcripts,
          sessionId,
          model,
          budgetBytes,
          summarize,
          rememberCleared: budgetBytes === deps.contextBudgetBytes,
          signal: stop,
          log: ctx.log,
          onSummaryUsage: (usage) => billing.addSideRequest(usage),
        }),
      stream: (transcript) =>
        streamModelAnswer(deps.anthropic, buildModelRequest({ agent: input.agent, memoryPrompt, transcript, maxTokens: deps.maxTokens, serverWebTools: deps.serverWebTools, mcpTools }), {
          compaction: deps.serverCompaction,
          signal: stop,
          onEvent: (event, snapshot) => {
            previews.onStreamEvent(event);
            billing.onStreamEvent(event, snapshot);
          },
        }),
    });
    billing.setModel(message.usage);
    // Previews of this answer reach streams before its events do.
    await previews.flush();
    const routes = toolRoutes(input.agent, mcpTools);
    const decisions = new Map<string, ToolDecision>();
    for (const block of message.content) {
      if (block.type !== 'tool_use') continue;
      const route = routes.get(block.name);
      const decision = await decide(route, block.name, (block.input ?? {}) as Record<string, unknown>, async (tool, toolInput) => {
        const { verdict, usage: judgeUsage } = await judgeToolCall({ anthropic: deps.anthropic, model, tool, input: toolInput, signal: stop });
        if (judgeUsage) await billing.addSideRequest(judgeUsage);
        return verdict;
      });
      decisions.set(block.id, decision);
    }
    // This attempt's final record is written with the answer, below.
    const { model: usage, record } = await billing.closeForAnswer();
    // The session is billed for the whole call: this attempt, its judgements and every earlier
    // attempt (final since this one began). A first attempt has no earlier one to read back.
    const earlier = attempt === 1 ? [] : (await store.listAttemptUsage(sessionId, { callKey })).filter((r) => r.attempt !== attempt);
    const records = record ? [...earlier, record] : earlier;
    const billed = billedUsageOfCall(records, { committedAttempt: attempt, model });
    const blockEvents = answerEvents({ sessionId, callKey, content: message.content, toolUseEvent: (block) => toolUseEventOf(block, decisions.get(block.id)) });
    // The primary's `session.usage` is the session's: its own calls and every thread's.
    const usageEvent = sessionUsageEvent(input, billed.usage, billed.costNanos, input.multiagent && input.thread === undefined ? elsewhere : undefined);
    await store.append(
      sessionId,
      [
        ...blockEvents,
        { key: `${callKey}:a${attempt}:end`, event: { type: 'span.model_request_end', model_request_start_id: startId, is_error: false, model_usage: usage } },
        ...(usageEvent ? [{ key: `${callKey}:usage`, event: usageEvent }] : []),
      ],
      [{ key: `assistant:${callKey}`, item: { kind: 'assistant', content: message.content, stop_reason: message.stop_reason } }],
      { finalUsage: record },
    );
    for (const block of message.content) if (block.type === 'tool_use') seen?.set(block.id, (block.input ?? {}) as Record<string, unknown>);
    const result = summarize(sessionId, callKey, message.content, message.stop_reason, billed.usage, decisions);
    await crossPostWaitingCalls(store, input, result.toolUses);
    await reserveThreads(store, input, result.toolUses);
    await recordSpend(store, input, billed);
    return { ...result, costNanos: billed.costNanos, ...textOf(input, message.content) };
  } catch (err) {
    const endKey = `${callKey}:a${attempt}:end`;
    // The endpoint bills what it reported before the stream broke or was cancelled.
    const { model: partial } = await billing.close();
    const end: NewEvent['event'] = { type: 'span.model_request_end', model_request_start_id: startId, is_error: true, model_usage: partial };
    if (stop.aborted) {
      await store.append(sessionId, [{ key: endKey, event: end }]);
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('model request cancelled');
      // Not a cancellation to Temporal, which has not told this attempt yet: a result that says so.
      return { stopReason: null, toolUses: [], usage: zeroUsage(), costNanos: 0, interrupted: true };
    }
    if (err instanceof CompactionLimitReached) {
      // Not a failed request: the turn stops (the session goes idle with retries_exhausted) and the next message starts afresh.
      await store.append(sessionId, [
        { key: endKey, event: end },
        { key: `${callKey}:a${attempt}:error`, event: { type: 'session.error', error: { type: 'compaction_limit_reached_error', message: err.message, retry_status: { type: 'exhausted' } } } },
      ]);
      throw ApplicationFailure.create({ type: 'CompactionLimitReached', message: err.message, nonRetryable: true });
    }
    const failure = classifyModelError(err);
    // Temporal's attempts decide whether this activity runs again.
    const willRetry = failure.retryable && ctx.info.attempt < input.maxAttempts;
    recordModelError({ model: modelId(input.agent.model), errorType: failure.apiErrorType, sessionErrorType: failure.errorType });
    await store.append(sessionId, [
      { key: endKey, event: end },
      {
        key: `${callKey}:a${attempt}:error`,
        event: { type: 'session.error', error: { type: failure.errorType, message: failure.message, retry_status: { type: willRetry ? 'retrying' : 'exhausted' } } },
      },
    ]);
    const failed = ApplicationFailure.create({
      type: failure.retryable ? 'ModelRequestFailed' : 'ModelRequestInvalid',
      message: failure.message,
      nonRetryable: !failure.retryable,
      ...(failure.retryAfterMs !== undefined ? { nextRetryDelay: failure.retryAfterMs } : {}),
    });
    failedRequestTypes.set(failed, failure.apiErrorType);
    throw failed;
  } finally {
    clearInterval(heartbeat);
  }
}

/** The number of the call's next attempt: one past the last whose start is recorded. */
async function nextAttemptOf(store: SessionStore, sessionId: string, callKey: string): Promise<number> {
  let attempt = 1;
  while (await store.findEventByKey(sessionId, `${callKey}:a${attempt}:start`)) attempt += 1;
  return attempt;
}

/** A worker that died mid-call left a start without an end: close it as failed, with the usage the attempt recorded. */
async function closeSpansOfCrashedAttempts(store: SessionStore, sessionId: string, callKey: string, earlier: readonly AttemptUsage[]): Promise<void> {
  for (const { attempt, model } of earlier) {
    const start = await store.findEventByKey(sessionId, `${callKey}:a${attempt}:start`);
    if (!start) continue;
    const endKey = `${callKey}:a${attempt}:end`;
    if (await store.findEventByKey(sessionId, endKey)) continue;
    await store.append(sessionId, [
      { key: endKey, event: { type: 'span.model_request_end', model_request_start_id: start.event.id, is_error: true, model_usage: model } },
    ]);
  }
}

function summarize(
  sessionId: string,
  callKey: string,
  content: AnswerBlock[],
  stopReason: string | null,
  usage: Usage,
  decisions: ReadonlyMap<string, ToolDecision>,
): CallModelResult {
  const toolUses = content.flatMap((block, index): ToolUseRef[] => {
    if (block.type !== 'tool_use') return [];
    // Event ids derive from event keys, so the summary needs no read-back.
    const eventId = deterministicId('sevt', sessionId, `${callKey}:block:${index}`);
    return [refOf(block.id, eventId, block.name, decisions.get(block.id), (block.input ?? {}) as Record<string, unknown>)];
  });
  return { stopReason, toolUses, usage };
}

function refOf(toolUseId: string, eventId: string, name: string, decision: ToolDecision | undefined, input: Record<string, unknown>): ToolUseRef {
  const route = decision?.route;
  const ref: ToolUseRef = { toolUseId, eventId, name, kind: route?.kind ?? 'builtin', permission: decision?.permission ?? 'allow' };
  if (route?.kind === 'delegation') ref.delegation = parseDelegation(name, input);
  if (decision?.evaluation.type === 'auto' && decision.evaluation.evaluated_permission.type === 'deny') ref.denyReason = decision.evaluation.evaluated_permission.reason_code;
  if (route?.kind === 'mcp') {
    ref.mcpServer = route.server;
    ref.mcpTool = route.tool;
  }
  return ref;
}

/** Applies the tool's permission policy; `auto` asks the rule layer, then the model. */
async function decide(
  route: ToolRoute | undefined,
  name: string,
  input: Record<string, unknown>,
  judge: (tool: string, input: Record<string, unknown>) => Promise<AutoVerdict>,
): Promise<ToolDecision> {
  if (!route || route.kind === 'custom' || route.kind === 'delegation') return { route, permission: 'allow', evaluation: { type: 'always_allow' } };
  if (route.policy === 'always_allow') return { route, permission: 'allow', evaluation: { type: 'always_allow' } };
  if (route.policy === 'always_ask') return { route, permission: 'ask', evaluation: { type: 'always_ask' } };
  const ruleName = route.kind === 'builtin' ? name : `mcp:${route.tool}`;
  const verdict = autoPermissionRule(ruleName, input) ?? (await judge(route.kind === 'mcp' ? `${route.server.name}/${route.tool} (MCP)` : name, input));
  return { route, permission: verdict.type, evaluation: { type: 'auto', evaluated_permission: verdict } };
}

function toolUseEventOf(block: Anthropic.Messages.ToolUseBlock, decision: ToolDecision | undefined): NewEvent['event'] {
  const input = (block.input ?? {}) as Record<string, unknown>;
  const route = decision?.route;
  if (route?.kind === 'custom') return { type: 'agent.custom_tool_use', name: block.name, input };
  const permission = { evaluated_permission: decision?.permission ?? 'allow', evaluation: decision?.evaluation ?? { type: 'always_allow' } };
  if (route?.kind === 'mcp') return { type: 'agent.mcp_tool_use', mcp_server_name: route.server.name, name: route.tool, input, ...permission };
  return { type: 'agent.tool_use', name: block.name, input, ...permission } as NewEvent['event'];
}

/** Rebuilds a stored answer's tool routing from its events, so a retried call never re-judges. */
async function storedToolUses(store: SessionStore, sessionId: string, callKey: string, content: AnswerBlock[], agent: AgentDefinition): Promise<ToolUseRef[]> {
  const refs: ToolUseRef[] = [];
  for (const [index, block] of content.entries()) {
    if (block.type !== 'tool_use') continue;
    const stored = await store.findEventByKey(sessionId, `${callKey}:block:${index}`);
    const event = stored?.event as (Record<string, unknown> & { type: string }) | undefined;
    const eventId = stored?.event.id ?? deterministicId('sevt', sessionId, `${callKey}:block:${index}`);
    const ref: ToolUseRef = { toolUseId: block.id, eventId, name: block.name, kind: 'builtin', permission: 'allow' };
    if (event?.type === 'agent.custom_tool_use') ref.kind = 'custom';
    if (event?.type === 'agent.tool_use' && agent.roster?.length && DELEGATION_TOOLS.has(block.name)) {
      ref.kind = 'delegation';
      ref.delegation = parseDelegation(block.name, (block.input ?? {}) as Record<string, unknown>);
    }
    if (event?.type === 'agent.mcp_tool_use') {
      ref.kind = 'mcp';
      ref.mcpServer = (agent.mcp_servers ?? []).find((s) => s.name === event['mcp_server_name']);
      ref.mcpTool = event['name'] as string;
    }
    const permission = event?.['evaluated_permission'];
    if (permission === 'ask' || permission === 'deny') ref.permission = permission;
    const evaluation = event?.['evaluation'] as { evaluated_permission?: { reason_code?: string } } | undefined;
    if (permission === 'deny') ref.denyReason = evaluation?.evaluated_permission?.reason_code ?? 'denied';
    refs.push(ref);
  }
  return refs;
}

/**
 * A thread's calls that wait for the client (approval, custom tools, a self-hosted
 * environment's worker) also go to the session's log, with the thread's id and the same
 * event id: the client watches the session's stream and answers there.
 */
async function crossPostWaitingCalls(store: SessionStore, input: CallModelInput, toolUses: readonly ToolUseRef[]): Promise<void> {
  const { thread } = input;
  if (thread === undefined) return;
  const onWorker = (ref: ToolUseRef) => input.selfHosted === true && isSandboxToolCall(ref);
  const waiting = toolUses.filter((ref) => ref.kind === 'custom' || ref.permission === 'ask' || onWorker(ref));
  if (waiting.length === 0) return;
  const copies: NewEvent[] = [];
  for (const ref of waiting) {
    const original = await store.findEventById(input.sessionId, ref.eventId);
    if (!original) continue;
    const { id, processed_at: _at, ...event } = original.event as { id: string; processed_at?: string; type: NewEvent['event']['type'] };
    copies.push({ key: `thread:${thread.threadId}:${id}`, id, event: { ...event, session_thread_id: thread.threadId } });
  }
  await store.append(thread.sessionId, copies);
}

/**
 * The threads the answer starts, checked and reserved before the workflow starts them: the
 * roster names the agent, the depth allows one more level, and the session has room
 * (`MAX_THREADS_PER_SESSION`, counted in the store across all its threads). Each start
 * gets its thread's id (derived from the call, so a retry reserves the same one); a start
 * that may not happen becomes the error the model reads.
 */
async function reserveThreads(store: SessionStore, input: CallModelInput, toolUses: ToolUseRef[]): Promise<void> {
  const roster = input.agent.roster ?? [];
  for (const ref of toolUses) {
    const call = ref.delegation;
    if (call?.type !== 'start') continue;
    const member = rosterMemberFor(roster, call.agent);
    const refusal = member === undefined ? unknownAgentRefusal(call.agent, roster) : input.multiagent === undefined ? 'Delegation is not available here.' : depthRefusal(input.multiagent.depth);
    if (refusal !== undefined || member === undefined || input.multiagent === undefined) {
      ref.delegation = { type: 'invalid', error: refusal ?? 'Delegation is not available here.' };
      continue;
    }
    const { sessionId, threadId: parentThreadId } = input.multiagent;
    const threadId = deterministicId('sthr', input.sessionId, ref.toolUseId);
    const reserved = await store.threads.reserve({ id: threadId, sessionId, parentThreadId, agentId: member.agent_id, agentVersion: member.version, agentName: member.name }, MAX_THREADS_PER_SESSION);
    ref.delegation = reserved ? { ...call, threadId } : { type: 'invalid', error: THREAD_LIMIT_REFUSAL };
  }
}

/** The answer's text, for a thread's report or a step's result; other sessions' history need not carry it. */
function textOf(input: CallModelInput, content: readonly AnswerBlock[]): { text?: string } {
  if (input.thread === undefined && input.answerText !== true) return {};
  return { text: content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n\n') };
}

/** The tools of the agent's MCP servers; a server that fails is reported as `session.error` and left out of this request. */
async function discoverMcpTools(deps: CallModelDeps, input: CallModelInput, attempt: number, signal: AbortSignal): Promise<Map<string, McpToolDescription[]>> {
  const found = new Map<string, McpToolDescription[]>();
  const toolsets = mcpToolsetsOf(input.agent);
  if (toolsets.length === 0) return found;
  const failures: NewEvent[] = [];
  await Promise.all(
    toolsets.map(async ({ server }) => {
      if (!deps.mcp) {
        failures.push({ key: `${input.callKey}:a${attempt}:mcp:${server.name}`, event: { type: 'session.error', error: mcpSessionError(new Error('this worker has no MCP gateway'), server.name, 'terminal') } as NewEvent['event'] });
        return;
      }
      try {
        found.set(server.name, await deps.mcp.listTools(server, input.vaultIds ?? [], signal));
      } catch (err) {
        if (signal.aborted) throw err;
        failures.push({ key: `${input.callKey}:a${attempt}:mcp:${server.name}`, event: { type: 'session.error', error: mcpSessionError(err, server.name) } as NewEvent['event'] });
      }
    }),
  );
  if (failures.length > 0) await deps.store.append(input.sessionId, failures);
  return found;
}

/** The `session.usage` event: the log's totals after this call, with the rest of the session's when given (absent for callers that track nothing). */
function sessionUsageEvent(input: CallModelInput, usage: Usage, costNanos: number, elsewhere?: { usage: Usage; costNanos: number }): NewEvent['event'] | undefined {
  if (!input.spent) return undefined;
  return {
    type: 'session.usage',
    usage: usageSnapshot(sumUsage([input.spent.usage, usage, elsewhere?.usage ?? zeroUsage()]), input.spent.costNanos + costNanos + (elsewhere?.costNanos ?? 0)),
    budget: apiBudgetOf(input.budget ?? null),
  } as NewEvent['event'];
}

/** A multi-agent session's log records its own totals after the call, for the budget checks of the others. */
async function recordSpend(store: SessionStore, input: CallModelInput, billed: { usage: Usage; costNanos: number }): Promise<void> {
  if (!input.multiagent || !input.spent) return;
  await store.threads.recordSpend(input.multiagent.sessionId, input.sessionId, sumUsage([input.spent.usage, billed.usage]), input.spent.costNanos + billed.costNanos);
}

/** What a call whose answer is stored was billed: the same total the attempt that stored it returned. */
async function billedUsageOfStoredCall(store: SessionStore, sessionId: string, callKey: string, { before, model }: { before: number; model: string }): Promise<{ usage: Usage; costNanos: number }> {
  const records = await store.listAttemptUsage(sessionId, { callKey });
  for (let attempt = 1; attempt < before; attempt++) {
    const end = await store.findEventByKey(sessionId, `${callKey}:a${attempt}:end`);
    if (end?.event.type !== 'span.model_request_end' || end.event.is_error !== false) continue;
    // An answer stored by a worker from before usage records: its span is all there is.
    const legacy = records.some((r) => r.attempt === attempt) ? [] : [{ callKey, attempt, model: usageFrom(end.event.model_usage), judge: zeroUsage(), final: true }];
    return billedUsageOfCall([...records, ...legacy], { committedAttempt: attempt, model });
  }
  // The answer is stored with its end span; without one, count every attempt recorded.
  return billedUsageOfCall(records, { committedAttempt: before, model });
}
