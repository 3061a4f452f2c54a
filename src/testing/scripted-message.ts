/**
 * Turns a scripted reply into the `Message` the API would return: ids, signatures,
 * stop reason and usage filled in. Streaming and non-streaming answers are both
 * derived from this one object, so they agree.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { BetaContentBlock, BetaMessage, BetaUsage } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { ScriptedContentBlock, ScriptedReply } from './script.ts';

const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** An id shaped like the API's, e.g. `msg_01XFDUDYJgAACzvnptvVoYEL`. */
export function newApiId(prefix: 'msg' | 'toolu' | 'req'): string {
  const suffix = Array.from(randomBytes(22), (byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join('');
  return `${prefix}_01${suffix}`;
}

/** A rough token count: about four characters a token, at least one. */
export function estimateTokens(characters: number): number {
  return Math.max(1, Math.ceil(characters / 4));
}

/**
 * Rough input tokens of a Messages or count_tokens request: its system prompt, messages
 * and tools, proportional to their size. As the API does, what precedes the last
 * `compaction` block in `messages` is not counted: that block stands in for it.
 */
export function estimateInputTokens(body: { system?: unknown; messages?: unknown; tools?: unknown }): number {
  return estimateTokens(JSON.stringify([body.system ?? '', fromLastCompaction(body.messages), body.tools ?? []]).length);
}

/** `messages` from the last compaction block on (that message cut to begin with it), or as they are without one. */
export function fromLastCompaction(messages: unknown): unknown[] {
  if (!Array.isArray(messages)) return [];
  for (let index = messages.length - 1; index >= 0; index--) {
    const content = (messages[index] as { content?: unknown }).content;
    if (!Array.isArray(content)) continue;
    const block = content.findLastIndex((b: unknown) => (b as { type?: unknown }).type === 'compaction');
    if (block !== -1) return [{ ...(messages[index] as object), content: content.slice(block) }, ...messages.slice(index + 1)];
  }
  return messages;
}

export type BuildMessageOptions = {
  reply: ScriptedReply;
  /** Echoed from the request, as the API does. */
  model: string;
  /** Used unless the reply sets `usage.input_tokens`. */
  estimatedInputTokens: number;
  /**
   * The request's server-side compaction ran (`compact_20260112`): the answer starts with
   * its `compaction` block, and its usage is reported among `iterations` only, as the
   * API reports it. `estimatedInputTokens` is then the context after compaction.
   */
  compaction?: { summary: string; inputTokens: number; pause: boolean } | undefined;
};

/**
 * The complete `Message` for a reply.
 * @example buildMessage({ reply: reply('Hi'), model: 'claude-opus-4-8', estimatedInputTokens: 12 })
 */
export function buildMessage({ reply, model, estimatedInputTokens, compaction }: BuildMessageOptions): BetaMessage {
  // Paused after compaction, the answer is the compaction block alone.
  const replied = compaction?.pause ? [] : reply.content.map(toContentBlock);
  const hasToolUse = replied.some((block) => block.type === 'tool_use');
  const usage = buildUsage(reply, replied, estimatedInputTokens);
  const message: BetaMessage = {
    id: newApiId('msg'),
    type: 'message',
    role: 'assistant',
    model,
    content: replied,
    stop_reason: reply.stop_reason ?? (hasToolUse ? 'tool_use' : 'end_turn'),
    stop_sequence: reply.stop_sequence ?? null,
    stop_details: null,
    container: null,
    context_management: null,
    diagnostics: null,
    usage,
  };
  if (compaction === undefined) return message;
  // The opaque state the API attaches, to be sent back verbatim; derived from the summary so replays match.
  const block: BetaContentBlock = { type: 'compaction', content: compaction.summary, encrypted_content: createHash('sha256').update(`compaction:${compaction.summary}`).digest('base64') };
  const compacted: BetaUsage['iterations'] = [
    { type: 'compaction', input_tokens: compaction.inputTokens, output_tokens: estimateTokens(compaction.summary.length), cache_creation_input_tokens: 0, cache_read_input_tokens: 0, cache_creation: null },
  ];
  if (compaction.pause) return { ...message, content: [block], stop_reason: 'compaction', usage: { ...usage, input_tokens: 0, output_tokens: 0, iterations: compacted } };
  const sampled = { type: 'message' as const, model: null, input_tokens: usage.input_tokens, output_tokens: usage.output_tokens, cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0, cache_read_input_tokens: usage.cache_read_input_tokens ?? 0, cache_creation: usage.cache_creation };
  return { ...message, content: [block, ...replied], usage: { ...usage, iterations: [...compacted, sampled] } };
}

function toContentBlock(block: ScriptedContentBlock): BetaContentBlock {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text, citations: null };
    case 'thinking':
      return { type: 'thinking', thinking: block.thinking, signature: block.signature ?? signatureFor(block.thinking) };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: block.data };
    case 'tool_use':
      return { type: 'tool_use', id: block.id ?? newApiId('toolu'), name: block.name, input: block.input, caller: { type: 'direct' } };
  }
}

/** Stable for the same text, so replays of a script send the same signatures. */
function signatureFor(thinkingText: string): string {
  return createHash('sha256').update(thinkingText).digest('base64');
}

function buildUsage(reply: ScriptedReply, content: readonly BetaContentBlock[], estimatedInputTokens: number): BetaUsage {
  const cacheCreationInputTokens = reply.usage?.cache_creation_input_tokens ?? 0;
  return {
    input_tokens: reply.usage?.input_tokens ?? estimatedInputTokens,
    output_tokens: reply.usage?.output_tokens ?? estimateTokens(content.reduce((sum, block) => sum + outputCharacters(block), 0)),
    cache_creation_input_tokens: cacheCreationInputTokens,
    cache_read_input_tokens: reply.usage?.cache_read_input_tokens ?? 0,
    cache_creation: { ephemeral_5m_input_tokens: cacheCreationInputTokens, ephemeral_1h_input_tokens: 0 },
    server_tool_use: null,
    service_tier: 'standard',
    inference_geo: null,
    output_tokens_details: null,
    speed: null,
    fallback_credit: null,
    iterations: null,
  };
}

function outputCharacters(block: BetaContentBlock): number {
  switch (block.type) {
    case 'text':
      return block.text.length;
    case 'thinking':
      return block.thinking.length;
    case 'redacted_thinking':
      return block.data.length;
    case 'tool_use':
      return block.name.length + JSON.stringify(block.input).length;
    default:
      return 0;
  }
}
