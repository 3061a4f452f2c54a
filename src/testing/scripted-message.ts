/**
 * Turns a scripted reply into the `Message` the API would return: ids, signatures,
 * stop reason and usage filled in. Streaming and non-streaming answers are both
 * derived from this one object, so they agree.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ContentBlock, Message, Usage } from '@anthropic-ai/sdk/resources/messages';
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

/** Rough input tokens of a Messages or count_tokens request: its system prompt, messages and tools. */
export function estimateInputTokens(body: { system?: unknown; messages?: unknown; tools?: unknown }): number {
  return estimateTokens(JSON.stringify([body.system ?? '', body.messages ?? [], body.tools ?? []]).length);
}

export type BuildMessageOptions = {
  reply: ScriptedReply;
  /** Echoed from the request, as the API does. */
  model: string;
  /** Used unless the reply sets `usage.input_tokens`. */
  estimatedInputTokens: number;
};

/**
 * The complete `Message` for a reply.
 * @example buildMessage({ reply: reply('Hi'), model: 'claude-opus-4-8', estimatedInputTokens: 12 })
 */
export function buildMessage({ reply, model, estimatedInputTokens }: BuildMessageOptions): Message {
  const content = reply.content.map(toContentBlock);
  const hasToolUse = content.some((block) => block.type === 'tool_use');
  return {
    id: newApiId('msg'),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: reply.stop_reason ?? (hasToolUse ? 'tool_use' : 'end_turn'),
    stop_sequence: reply.stop_sequence ?? null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: buildUsage(reply, content, estimatedInputTokens),
  };
}

function toContentBlock(block: ScriptedContentBlock): ContentBlock {
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

function buildUsage(reply: ScriptedReply, content: readonly ContentBlock[], estimatedInputTokens: number): Usage {
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
  };
}

function outputCharacters(block: ContentBlock): number {
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
