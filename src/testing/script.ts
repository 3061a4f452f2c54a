/**
 * What a scripted model says: turns (replies or faults), the script that hands them
 * out, and small builders for writing them. The schemas double as the parser for
 * turns that come from untyped places (function scripts written in JS, JSON files).
 */
import { z } from 'zod';
import type { MessageCreateParams, StopReason } from '@anthropic-ai/sdk/resources/messages';

const TextBlockSpec = z.object({
  type: z.literal('text'),
  text: z.string(),
});

const ThinkingBlockSpec = z.object({
  type: z.literal('thinking'),
  thinking: z.string(),
  /** Opaque signature sent back by the client on later turns. Default: derived from the text. */
  signature: z.string().optional(),
});

const RedactedThinkingBlockSpec = z.object({
  type: z.literal('redacted_thinking'),
  data: z.string(),
});

const ToolUseBlockSpec = z.object({
  type: z.literal('tool_use'),
  /** Default: a fresh `toolu_…` id. Give one when a test needs to refer to it. */
  id: z.string().min(1).optional(),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
});

const ContentBlockSpec = z.discriminatedUnion('type', [
  TextBlockSpec,
  ThinkingBlockSpec,
  RedactedThinkingBlockSpec,
  ToolUseBlockSpec,
]);

const STOP_REASONS = [
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
  'model_context_window_exceeded',
] as const satisfies readonly StopReason[];

const UsageSpec = z.object({
  input_tokens: z.number().int().nonnegative().optional(),
  output_tokens: z.number().int().nonnegative().optional(),
  cache_creation_input_tokens: z.number().int().nonnegative().optional(),
  cache_read_input_tokens: z.number().int().nonnegative().optional(),
});

const delayMs = z.number().nonnegative().optional();

const ReplySpec = z.object({
  content: z.array(ContentBlockSpec),
  /** Default: `tool_use` when the content has a tool_use block, else `end_turn`. */
  stop_reason: z.enum(STOP_REASONS).optional(),
  /** Only meaningful with `stop_reason: 'stop_sequence'`. Default: null. */
  stop_sequence: z.string().optional(),
  /** Counters to report instead of the rough estimates (about 4 characters a token). */
  usage: UsageSpec.optional(),
  /** Wait this long before answering, on top of the server's `latencyMs`. Default 0. */
  delayMs,
  /** Streaming only: pause between SSE events, to make a stream take time. Default 0. */
  eventDelayMs: delayMs,
});

const afterEvents = z.number().int().nonnegative().optional();

const FaultSpec = z.discriminatedUnion('fault', [
  z.object({
    /** 429 `rate_limit_error` with a `retry-after` header. */
    fault: z.literal('rate_limited'),
    /** Value of `retry-after` (fractions allowed, which the SDK honours). Default 1. */
    retryAfterSeconds: z.number().nonnegative().optional(),
    message: z.string().optional(),
    delayMs,
  }),
  /** 529 `overloaded_error`. */
  z.object({ fault: z.literal('overloaded'), message: z.string().optional(), delayMs }),
  /** 500 `api_error`. */
  z.object({ fault: z.literal('server_error'), message: z.string().optional(), delayMs }),
  /** 400 `invalid_request_error`; not retryable. */
  z.object({ fault: z.literal('bad_request'), message: z.string().optional(), delayMs }),
  /** Accepts the request and never answers; the connection stays open until the client gives up or the server closes. */
  z.object({ fault: z.literal('hang') }),
  z.object({
    /**
     * Streaming: sends `afterEvents` SSE events (default 3), then destroys the socket.
     * Non-streaming: destroys the socket before answering.
     */
    fault: z.literal('disconnect_mid_stream'),
    afterEvents,
    delayMs,
  }),
  z.object({
    /**
     * Streaming: sends `afterEvents` SSE events (default 3), then stops sending but keeps
     * the connection open. Non-streaming: behaves like `hang`.
     */
    fault: z.literal('stall_mid_stream'),
    afterEvents,
    delayMs,
  }),
  z.object({
    /**
     * Streaming: sends `afterEvents` SSE events (default 3), then an `event: error` of
     * `errorType` (default `overloaded_error`), as the API does when it fails mid-answer.
     * Non-streaming: the same error as an HTTP status.
     */
    fault: z.literal('error_mid_stream'),
    errorType: z.enum(['overloaded_error', 'api_error', 'rate_limit_error']).optional(),
    afterEvents,
    message: z.string().optional(),
    delayMs,
  }),
]);

export type ScriptedTextBlock = z.infer<typeof TextBlockSpec>;
export type ScriptedThinkingBlock = z.infer<typeof ThinkingBlockSpec>;
export type ScriptedRedactedThinkingBlock = z.infer<typeof RedactedThinkingBlockSpec>;
export type ScriptedToolUseBlock = z.infer<typeof ToolUseBlockSpec>;
/** A content block of a scripted reply; ids, signatures and citations are filled in when sent. */
export type ScriptedContentBlock = z.infer<typeof ContentBlockSpec>;
export type ScriptedUsage = z.infer<typeof UsageSpec>;
/** A successful answer: the assistant message's content plus how to deliver it. */
export type ScriptedReply = z.infer<typeof ReplySpec>;
/** A failure to answer: an API error, a hang, or a broken stream. */
export type ScriptedFault = z.infer<typeof FaultSpec>;
export type ScriptedFaultKind = ScriptedFault['fault'];
/** One answer of the scripted model: a reply or a fault. */
export type ScriptedTurn = ScriptedReply | ScriptedFault;

/** The parsed body of a Messages request, as the client sent it (validated only for `model`, `messages`, `max_tokens`). */
export type ScriptedRequest = MessageCreateParams;

export type ScriptContext = {
  /** 0-based index of this call among the server's Messages calls (`server.calls[callIndex]`). */
  callIndex: number;
  /** Request headers, names lowercased. */
  headers: Readonly<Record<string, string>>;
  /** Aborts when the client goes away or the server closes. */
  signal: AbortSignal;
};

/**
 * Computes the answer to one call. Return `undefined` (or throw) to declare the call
 * unscripted: the client gets a 500 and `assertNoUnscriptedCalls()` fails.
 */
export type ScriptFunction = (
  request: ScriptedRequest,
  context: ScriptContext,
) => ScriptedTurn | undefined | Promise<ScriptedTurn | undefined>;

/** Turns handed out in order, one per call, or a function that answers each call. */
export type Script = readonly ScriptedTurn[] | ScriptFunction;

/**
 * Parses a turn from an untyped source (a JS function script, a JSON file).
 * @throws Error naming what is wrong, e.g. `content.0.type: Invalid input`.
 */
export function parseTurn(value: unknown): ScriptedTurn {
  const isFault = typeof value === 'object' && value !== null && 'fault' in value;
  const result = isFault ? FaultSpec.safeParse(value) : ReplySpec.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return `${where}${issue.message}`;
  });
  throw new Error(`invalid ${isFault ? 'fault' : 'reply'}: ${problems.join('; ')}`);
}

/**
 * A text block.
 * @example reply(text('Hello!'))
 */
export function text(value: string): ScriptedTextBlock {
  return { type: 'text', text: value };
}

/**
 * A thinking block; its signature defaults to one derived from the text.
 * @example reply(thinking('The user wants a file listing.'), toolUse('bash', { command: 'ls' }))
 */
export function thinking(value: string, { signature }: { signature?: string | undefined } = {}): ScriptedThinkingBlock {
  return signature === undefined ? { type: 'thinking', thinking: value } : { type: 'thinking', thinking: value, signature };
}

/** A redacted thinking block carrying opaque `data`. */
export function redactedThinking(data: string): ScriptedRedactedThinkingBlock {
  return { type: 'redacted_thinking', data };
}

/**
 * A tool_use block; the id defaults to a fresh `toolu_…`.
 * @example toolUse('read', { path: 'README.md' }, { id: 'toolu_read_1' })
 */
export function toolUse(
  name: string,
  input: Record<string, unknown>,
  { id }: { id?: string | undefined } = {},
): ScriptedToolUseBlock {
  return id === undefined ? { type: 'tool_use', name, input } : { type: 'tool_use', id, name, input };
}

/**
 * A reply made of the given blocks; a string is shorthand for a text block. Spread it
 * to set more fields.
 * @example
 * const script = [
 *   reply('Let me look.', toolUse('bash', { command: 'ls' })),
 *   { ...reply('Out of room'), stop_reason: 'max_tokens' },
 * ];
 */
export function reply(...blocks: ReadonlyArray<ScriptedContentBlock | string>): ScriptedReply {
  return { content: blocks.map((block) => (typeof block === 'string' ? text(block) : block)) };
}
