/**
 * A `Message` as the Messages API streams it: the server-sent events the SDK's
 * stream parser and `MessageStream` accumulator expect, with text, thinking and
 * tool input split into a few deltas.
 */
import type { BetaContentBlock, BetaMessage, BetaRawMessageStreamEvent } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { ReportedUsage } from './call-log.ts';

/** A stream event, or the keep-alive `ping` the API interleaves (clients ignore it). */
export type StreamEvent = BetaRawMessageStreamEvent | { type: 'ping' };

/** How many deltas a text, thinking or tool input is split into (fewer when it is shorter). */
const DELTAS_PER_BLOCK = 3;

/**
 * The events that stream `message`: `message_start`, a `ping`, each block's
 * start/deltas/stop, `message_delta` with the stop reason and final usage, `message_stop`.
 */
export function messageStreamEvents(message: BetaMessage): StreamEvent[] {
  const events: StreamEvent[] = [
    // Like the API, the message starts empty and with provisional output usage.
    { type: 'message_start', message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...message.usage, output_tokens: 1 } } },
    { type: 'ping' },
  ];
  message.content.forEach((block, index) => events.push(...blockEvents(block, index)));
  events.push(
    {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence, stop_details: message.stop_details, container: message.container },
      context_management: message.context_management,
      usage: {
        input_tokens: message.usage.input_tokens,
        output_tokens: message.usage.output_tokens,
        cache_creation_input_tokens: message.usage.cache_creation_input_tokens,
        cache_read_input_tokens: message.usage.cache_read_input_tokens,
        output_tokens_details: message.usage.output_tokens_details,
        server_tool_use: message.usage.server_tool_use,
        iterations: message.usage.iterations,
        fallback_credit: message.usage.fallback_credit,
      },
    },
    { type: 'message_stop' },
  );
  return events;
}

function blockEvents(block: BetaContentBlock, index: number): StreamEvent[] {
  const start = (content_block: Extract<StreamEvent, { type: 'content_block_start' }>['content_block']): StreamEvent => ({
    type: 'content_block_start',
    index,
    content_block,
  });
  type Delta = Extract<StreamEvent, { type: 'content_block_delta' }>['delta'];
  // A thinking delta's `estimated_tokens` comes only with its own beta: this server never sends it.
  const delta = (delta: Exclude<Delta, { type: 'thinking_delta' }> | { type: 'thinking_delta'; thinking: string }): StreamEvent => ({
    type: 'content_block_delta',
    index,
    delta: delta as Delta,
  });
  const stop: StreamEvent = { type: 'content_block_stop', index };

  switch (block.type) {
    case 'text':
      return [start({ ...block, text: '' }), ...splitText(block.text).map((text) => delta({ type: 'text_delta', text })), stop];
    case 'thinking':
      return [
        start({ ...block, thinking: '', signature: '' }),
        ...splitText(block.thinking).map((thinking) => delta({ type: 'thinking_delta', thinking })),
        delta({ type: 'signature_delta', signature: block.signature }),
        stop,
      ];
    case 'tool_use':
      return [
        start({ ...block, input: {} }),
        ...splitJson(JSON.stringify(block.input)).map((partial_json) => delta({ type: 'input_json_delta', partial_json })),
        stop,
      ];
    case 'compaction':
      // The summary arrives whole, in one delta, as the API streams it.
      return [start({ ...block, content: null, encrypted_content: null }), delta({ type: 'compaction_delta', content: block.content, encrypted_content: block.encrypted_content }), stop];
    default:
      // Blocks without deltas (redacted thinking, server tool results) arrive whole in their start event.
      return [start(block), stop];
  }
}

/**
 * The usage a client knows of after `event`, given what it knew before: `message_start`
 * reports the input and cache counts and provisional output, and `message_delta`
 * overwrites the counts it carries (they are running totals, never increments).
 */
export function usageAfter(before: ReportedUsage | undefined, event: StreamEvent): ReportedUsage | undefined {
  if (event.type === 'message_start') return reportedUsageOf(event.message.usage);
  if (event.type !== 'message_delta' || before === undefined) return before;
  const { usage } = event;
  return {
    input_tokens: usage.input_tokens ?? before.input_tokens,
    output_tokens: usage.output_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens ?? before.cache_creation_input_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens ?? before.cache_read_input_tokens,
  };
}

/** The four billed counts of a `Message`'s usage (its top-level ones: a compaction's are in `iterations`). */
export function reportedUsageOf(usage: BetaMessage['usage']): ReportedUsage {
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
  };
}

/** One server-sent event, framed as the API frames it. */
export function encodeSseEvent(event: StreamEvent | { type: 'error' }): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Splits text into a few pieces without separating a surrogate pair. */
export function splitText(value: string): string[] {
  return splitWhere(value, (index) => !isLowSurrogate(value.charCodeAt(index)));
}

/**
 * Splits serialized JSON into a few pieces, cutting inside strings as the API does,
 * but never inside an escape sequence or a surrogate pair.
 */
export function splitJson(json: string): string[] {
  const safe: boolean[] = [];
  // 0: outside an escape; -1: just after a backslash; n > 0: hex digits left in `\uXXXX`.
  let escape = 0;
  for (let index = 0; index < json.length; index++) {
    const char = json[index];
    safe.push(escape === 0 && !isLowSurrogate(json.charCodeAt(index)));
    if (escape === -1) escape = char === 'u' ? 4 : 0;
    else if (escape > 0) escape -= 1;
    else if (char === '\\') escape = -1;
  }
  return splitWhere(json, (index) => safe[index] === true);
}

/** Cuts `value` near each third, moving each cut forward to the next index where `canCutBefore` holds. */
function splitWhere(value: string, canCutBefore: (index: number) => boolean): string[] {
  if (value.length === 0) return [];
  const pieces: string[] = [];
  let from = 0;
  for (let piece = 1; piece < DELTAS_PER_BLOCK; piece++) {
    let cut = Math.max(from + 1, Math.round((value.length * piece) / DELTAS_PER_BLOCK));
    while (cut < value.length && !canCutBefore(cut)) cut++;
    if (cut >= value.length) break;
    pieces.push(value.slice(from, cut));
    from = cut;
  }
  pieces.push(value.slice(from));
  return pieces;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
