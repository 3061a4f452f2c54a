import type Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { NewEvent, SessionStore } from '../../src/store/session-store.ts';
import { deterministicId } from '../../src/store/ids.ts';
import { modelId, type AgentDefinition } from '../../src/schemas/agent.ts';
import { autoPermissionRule, type AutoVerdict } from '../../src/core/auto-permission-rules.ts';
import { formatUsd, listCostNanos } from '../../src/core/model-pricing.ts';
import { mcpToolsetsOf, toolRoutes, type McpToolDescription, type ToolRoute } from '../../src/core/tool-routing.ts';
import type { BudgetLimit, ToolUseRef, Usage, WorkflowEvent } from '../../workflows/contract.ts';
import { mcpSessionError, type McpGateway } from '../mcp-gateway.ts';
import { judgeToolCall } from './judge-tool-call.ts';
import { previewPublisher } from './preview-publisher.ts';
import { classifyModelError } from './classify-model-error.ts';
import { buildModelRequest } from './model-request.ts';
import { answerEvents } from './server-tool-events.ts';
import type { TranscriptCache } from './transcript-cache.ts';
import { appendWorkflowEvents } from '../workflow-events.ts';

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
  budget?: BudgetLimit | null | undefined;
};


export type CallModelResult = {
  stopReason: string | null;
  toolUses: ToolUseRef[];
  usage: Usage;
  /** List cost of this call (and of any `auto` permission judgements), in nano-dollars. */
  costNanos?: number;
};

export type CallModelDeps = {
  store: SessionStore;
  anthropic: Anthropic;
  maxTokens: number;
  contextBudgetBytes: number;
  /** Use Anthropic's server-side web_search / web_fetch instead of the worker's. */
  serverWebTools: boolean;
  transcripts: TranscriptCache;
  /** How often a streaming call heartbeats when the model is silent. */
  heartbeatEveryMs: number;
  mcp?: McpGateway | undefined;
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
 * stored answer without calling the model again.
 */
export async function callModel(deps: CallModelDeps, input: CallModelInput): Promise<CallModelResult> {
  const { store } = deps;
  const { sessionId, callKey } = input;
  const ctx = Context.current();
  const attempt = ctx.info.attempt;

  await appendWorkflowEvents(store, sessionId, input.leading);

  // Only a retry can find its answer already stored (the worker died after the commit).
  if (attempt > 1) {
    const answered = await store.getTranscriptItem(sessionId, `assistant:${callKey}`);
    if (answered?.kind === 'assistant') {
      const usage = await usageOfStoredCall(store, sessionId, callKey);
      const toolUses = await storedToolUses(store, sessionId, callKey, answered.content, input.agent);
      return { stopReason: answered.stop_reason, toolUses, usage, costNanos: listCostNanos(modelId(input.agent.model), usage) };
    }
    await closeSpansOfCrashedAttempts(store, sessionId, callKey, attempt);
  }
  const [start] = await store.append(sessionId, [{ key: `${callKey}:a${attempt}:start`, event: { type: 'span.model_request_start' } }]);
  const startId = start!.event.id;

  const transcript = await deps.transcripts.read(store, sessionId);
  const mcpTools = await discoverMcpTools(deps, input, attempt, ctx.cancellationSignal);
  const request = buildModelRequest({
    agent: input.agent,
    transcript,
    maxTokens: deps.maxTokens,
    contextBudgetBytes: deps.contextBudgetBytes,
    serverWebTools: deps.serverWebTools,
    mcpTools,
  });

  // A timer, not every stream event: liveness and cancellation only need a steady beat,
  // and a heartbeat per event costs a server round trip on short calls.
  const heartbeat = setInterval(() => ctx.heartbeat(), deps.heartbeatEveryMs);
  try {
    const stream = deps.anthropic.messages.stream(request, { signal: ctx.cancellationSignal });
    const previews = previewPublisher({ previews: store.previews, sessionId, callKey });
    stream.on('streamEvent', (event) => previews.onStreamEvent(event));
    const message = await stream.finalMessage();
    // Previews of this answer reach streams before its events do.
    await previews.flush();
    const usage = usageOf(message.usage);
    const model = modelId(input.agent.model);
    let costNanos = listCostNanos(model, usage);
    const routes = toolRoutes(input.agent, mcpTools);
    const decisions = new Map<string, ToolDecision>();
    const judged: Usage[] = [];
    for (const block of message.content) {
      if (block.type !== 'tool_use') continue;
      const route = routes.get(block.name);
      const decision = await decide(route, block.name, (block.input ?? {}) as Record<string, unknown>, async (tool, toolInput) => {
        const { verdict, usage: judgeUsage } = await judgeToolCall({ anthropic: deps.anthropic, model, tool, input: toolInput, signal: ctx.cancellationSignal });
        if (judgeUsage) judged.push(judgeUsage);
        return verdict;
      });
      decisions.set(block.id, decision);
    }
    for (const judgeUsage of judged) costNanos += listCostNanos(model, judgeUsage);
    const blockEvents = answerEvents({ sessionId, callKey, content: message.content, toolUseEvent: (block) => toolUseEventOf(block, decisions.get(block.id)) });
    const usageEvent = sessionUsageEvent(input, [usage, ...judged], costNanos);
    await store.append(
      sessionId,
      [
        ...blockEvents,
        { key: `${callKey}:a${attempt}:end`, event: { type: 'span.model_request_end', model_request_start_id: startId, is_error: false, model_usage: usage } },
        ...(usageEvent ? [{ key: `${callKey}:usage`, event: usageEvent }] : []),
      ],
      [{ key: `assistant:${callKey}`, item: { kind: 'assistant', content: message.content, stop_reason: message.stop_reason } }],
    );
    // The session's totals include the permission judgements' tokens too.
    return { ...summarize(sessionId, callKey, message.content, message.stop_reason, sumUsage([usage, ...judged]), decisions), costNanos };
  } catch (err) {
    const endKey = `${callKey}:a${attempt}:end`;
    const end: NewEvent['event'] = { type: 'span.model_request_end', model_request_start_id: startId, is_error: true, model_usage: usageOf(undefined) };
    if (ctx.cancellationSignal.aborted) {
      await store.append(sessionId, [{ key: endKey, event: end }]);
      throw new CancelledFailure('model request cancelled');
    }
    const failure = classifyModelError(err);
    const willRetry = failure.retryable && attempt < input.maxAttempts;
    await store.append(sessionId, [
      { key: endKey, event: end },
      {
        key: `${callKey}:a${attempt}:error`,
        event: { type: 'session.error', error: { type: failure.errorType, message: failure.message, retry_status: { type: willRetry ? 'retrying' : 'exhausted' } } },
      },
    ]);
    throw ApplicationFailure.create({
      type: failure.retryable ? 'ModelRequestFailed' : 'ModelRequestInvalid',
      message: failure.message,
      nonRetryable: !failure.retryable,
      ...(failure.retryAfterMs !== undefined ? { nextRetryDelay: failure.retryAfterMs } : {}),
    });
  } finally {
    clearInterval(heartbeat);
  }
}

/** A worker that died mid-call left a start without an end: close it as failed. */
async function closeSpansOfCrashedAttempts(store: SessionStore, sessionId: string, callKey: string, attempt: number): Promise<void> {
  for (let previous = 1; previous < attempt; previous++) {
    const start = await store.findEventByKey(sessionId, `${callKey}:a${previous}:start`);
    if (!start) continue;
    const endKey = `${callKey}:a${previous}:end`;
    if (await store.findEventByKey(sessionId, endKey)) continue;
    await store.append(sessionId, [
      { key: endKey, event: { type: 'span.model_request_end', model_request_start_id: start.event.id, is_error: true, model_usage: usageOf(undefined) } },
    ]);
  }
}

function summarize(
  sessionId: string,
  callKey: string,
  content: Anthropic.Messages.ContentBlock[],
  stopReason: string | null,
  usage: Usage,
  decisions: ReadonlyMap<string, ToolDecision>,
): CallModelResult {
  const toolUses = content.flatMap((block, index): ToolUseRef[] => {
    if (block.type !== 'tool_use') return [];
    // Event ids derive from event keys, so the summary needs no read-back.
    const eventId = deterministicId('sevt', sessionId, `${callKey}:block:${index}`);
    return [refOf(block.id, eventId, block.name, decisions.get(block.id))];
  });
  return { stopReason, toolUses, usage };
}

function refOf(toolUseId: string, eventId: string, name: string, decision: ToolDecision | undefined): ToolUseRef {
  const route = decision?.route;
  const ref: ToolUseRef = { toolUseId, eventId, name, kind: route?.kind ?? 'builtin', permission: decision?.permission ?? 'allow' };
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
  if (!route || route.kind === 'custom') return { route, permission: 'allow', evaluation: { type: 'always_allow' } };
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
async function storedToolUses(store: SessionStore, sessionId: string, callKey: string, content: Anthropic.Messages.ContentBlock[], agent: AgentDefinition): Promise<ToolUseRef[]> {
  const refs: ToolUseRef[] = [];
  for (const [index, block] of content.entries()) {
    if (block.type !== 'tool_use') continue;
    const stored = await store.findEventByKey(sessionId, `${callKey}:block:${index}`);
    const event = stored?.event as (Record<string, unknown> & { type: string }) | undefined;
    const eventId = stored?.event.id ?? deterministicId('sevt', sessionId, `${callKey}:block:${index}`);
    const ref: ToolUseRef = { toolUseId: block.id, eventId, name: block.name, kind: 'builtin', permission: 'allow' };
    if (event?.type === 'agent.custom_tool_use') ref.kind = 'custom';
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

/** The `session.usage` event: the session's totals after this call (absent for callers that track nothing). */
function sessionUsageEvent(input: CallModelInput, usages: Usage[], costNanos: number): NewEvent['event'] | undefined {
  if (!input.spent) return undefined;
  const total = sumUsage([input.spent.usage, ...usages]);
  return {
    type: 'session.usage',
    usage: {
      input_tokens: total.input_tokens,
      output_tokens: total.output_tokens,
      cache_read_input_tokens: total.cache_read_input_tokens,
      cache_creation: { ephemeral_5m_input_tokens: total.cache_creation_input_tokens },
      list_cost: { amount: formatUsd(input.spent.costNanos + costNanos), currency: 'USD' },
    },
    budget: input.budget ?? null,
  } as NewEvent['event'];
}

async function usageOfStoredCall(store: SessionStore, sessionId: string, callKey: string): Promise<Usage> {
  for (let attempt = 1; ; attempt++) {
    const end = await store.findEventByKey(sessionId, `${callKey}:a${attempt}:end`);
    if (!end) return usageOf(undefined);
    if (end.event.type === 'span.model_request_end' && end.event.is_error === false) return usageOf(end.event.model_usage);
  }
}

function usageOf(usage: { [K in keyof Usage]?: number | null } | null | undefined): Usage {
  return {
    input_tokens: usage?.input_tokens ?? 0,
    output_tokens: usage?.output_tokens ?? 0,
    cache_creation_input_tokens: usage?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: usage?.cache_read_input_tokens ?? 0,
  };
}

function sumUsage(usages: readonly Usage[]): Usage {
  const total = usageOf(undefined);
  for (const u of usages) {
    total.input_tokens += u.input_tokens;
    total.output_tokens += u.output_tokens;
    total.cache_creation_input_tokens += u.cache_creation_input_tokens;
    total.cache_read_input_tokens += u.cache_read_input_tokens;
  }
  return total;
}
