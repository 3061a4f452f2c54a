import type Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { NewEvent, SessionStore } from '../../src/store/session-store.ts';
import { deterministicId } from '../../src/store/ids.ts';
import type { AgentDefinition } from '../../src/schemas/agent.ts';
import type { Usage, WorkflowEvent } from '../../workflows/session-types.ts';
import { classifyModelError } from './classify-model-error.ts';
import { buildModelRequest } from './model-request.ts';
import { answerEvents } from './server-tool-events.ts';
import type { TranscriptCache } from './transcript-cache.ts';
import { toNewEvents, toTranscriptItems } from '../workflow-events.ts';

export type CallModelInput = {
  sessionId: string;
  /** Unique per model call in the session; keys every event the call produces. */
  callKey: string;
  agent: AgentDefinition;
  /** Workflow events to persist before the call (user messages, status). */
  leading: WorkflowEvent[];
  maxAttempts: number;
};

export type ToolUseRef = { toolUseId: string; eventId: string; name: string };

export type CallModelResult = {
  stopReason: string | null;
  toolUses: ToolUseRef[];
  usage: Usage;
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

  if (input.leading.length > 0) await store.append(sessionId, toNewEvents(input.leading), toTranscriptItems(input.leading));

  // Only a retry can find its answer already stored (the worker died after the commit).
  if (attempt > 1) {
    const answered = await store.getTranscriptItem(sessionId, `assistant:${callKey}`);
    if (answered?.kind === 'assistant') {
      return summarize(sessionId, callKey, answered.content, answered.stop_reason, await usageOfStoredCall(store, sessionId, callKey));
    }
    await closeSpansOfCrashedAttempts(store, sessionId, callKey, attempt);
  }
  const [start] = await store.append(sessionId, [{ key: `${callKey}:a${attempt}:start`, event: { type: 'span.model_request_start' } }]);
  const startId = start!.event.id;

  const transcript = await deps.transcripts.read(store, sessionId);
  const request = buildModelRequest({
    agent: input.agent,
    transcript,
    maxTokens: deps.maxTokens,
    contextBudgetBytes: deps.contextBudgetBytes,
    serverWebTools: deps.serverWebTools,
  });

  // A timer, not every stream event: liveness and cancellation only need a steady beat,
  // and a heartbeat per event costs a server round trip on short calls.
  const heartbeat = setInterval(() => ctx.heartbeat(), deps.heartbeatEveryMs);
  try {
    const stream = deps.anthropic.messages.stream(request, { signal: ctx.cancellationSignal });
    const message = await stream.finalMessage();
    const usage = usageOf(message.usage);
    const blockEvents = answerEvents({ sessionId, callKey, content: message.content });
    await store.append(
      sessionId,
      [
        ...blockEvents,
        { key: `${callKey}:a${attempt}:end`, event: { type: 'span.model_request_end', model_request_start_id: startId, is_error: false, model_usage: usage } },
      ],
      [{ key: `assistant:${callKey}`, item: { kind: 'assistant', content: message.content, stop_reason: message.stop_reason } }],
    );
    return summarize(sessionId, callKey, message.content, message.stop_reason, usage);
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

function summarize(sessionId: string, callKey: string, content: Anthropic.Messages.ContentBlock[], stopReason: string | null, usage: Usage): CallModelResult {
  const toolUses = content.flatMap((block, index) =>
    // Event ids derive from event keys, so the summary needs no read-back.
    block.type === 'tool_use' ? [{ toolUseId: block.id, eventId: deterministicId('sevt', sessionId, `${callKey}:block:${index}`), name: block.name }] : [],
  );
  return { stopReason, toolUses, usage };
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
