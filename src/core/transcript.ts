import type Anthropic from '@anthropic-ai/sdk';
import type { UserContentBlock } from '../schemas/content.ts';
import type { ToolResultContentBlock } from '../schemas/events.ts';

type MessageParam = Anthropic.Messages.MessageParam;
type ContentBlockParam = Anthropic.Messages.ContentBlockParam;
type ToolResultBlockParam = Anthropic.Messages.ToolResultBlockParam;

/**
 * A block of a model answer as the transcript keeps it: the Messages API's blocks, and
 * the `compaction` block Anthropic's server-side compaction (a beta) puts first in an
 * answer. Kept verbatim: the API wants compaction blocks back exactly as it sent them.
 */
export type AnswerBlock = Anthropic.Messages.ContentBlock | Anthropic.Beta.Messages.BetaCompactionBlock;

/**
 * One entry of what the model sees, stored in order. Items are small documents
 * in the store; the workflow only ever handles their keys.
 */
export type TranscriptItem =
  | { kind: 'user'; content: UserContentBlock[] }
  | { kind: 'assistant'; content: AnswerBlock[]; stop_reason: string | null }
  | {
      kind: 'tool_result';
      /** The model's `toolu_…` id. */
      tool_use_id: string;
      content: ToolResultContentBlock[];
      is_error: boolean;
    }
  /** A `system.message`: operator guidance, shown to the model with the next user turn. */
  | { kind: 'system'; content: { type: 'text'; text: string }[] }
  /**
   * A model-written summary of the conversation up to transcript position `through`
   * (the earlier summary included): requests show it in place of those items. The
   * items stay in the store and the event log stays complete; see `context-view.ts`.
   */
  | { kind: 'summary'; text: string; through: number };

/** How a summary opens in the request, so the model knows what it reads. */
export const SUMMARY_PREAMBLE =
  'The earlier part of this conversation was replaced by the summary below to keep it within the context window. Continue the work from where it left off.';

export const INTERRUPTED_TOOL_RESULT = 'The tool call was interrupted before it finished; it produced no result.';

/**
 * Builds the Messages API `messages` from transcript items: user-side items
 * between two assistant turns merge into one user message with tool results
 * first (the API requires them to answer the preceding tool_use blocks), and a
 * tool_use left without a result (an interrupt) gets an error result.
 */
export function assembleMessages(items: readonly TranscriptItem[]): MessageParam[] {
  const messages: MessageParam[] = [];
  let pendingToolUseIds: string[] = [];
  let results: ToolResultBlockParam[] = [];
  let userBlocks: ContentBlockParam[] = [];

  const flushUser = () => {
    for (const id of pendingToolUseIds) {
      if (!results.some((r) => r.tool_use_id === id)) {
        results.push({ type: 'tool_result', tool_use_id: id, is_error: true, content: INTERRUPTED_TOOL_RESULT });
      }
    }
    // In the order the model made the calls, whichever finished first: a call approved while
    // another waits for its answer may finish after that one is denied.
    const order = (r: ToolResultBlockParam) => {
      const at = pendingToolUseIds.indexOf(r.tool_use_id);
      return at < 0 ? pendingToolUseIds.length : at;
    };
    results.sort((a, b) => order(a) - order(b));
    const content = [...results, ...userBlocks];
    if (content.length > 0) messages.push({ role: 'user', content });
    pendingToolUseIds = [];
    results = [];
    userBlocks = [];
  };

  for (const item of items) {
    switch (item.kind) {
      case 'assistant': {
        flushUser();
        // Compaction blocks go back as they came (a beta block: the request then goes to the beta API).
        messages.push({ role: 'assistant', content: item.content as ContentBlockParam[] });
        pendingToolUseIds = item.content.filter((b) => b.type === 'tool_use').map((b) => b.id);
        break;
      }
      case 'tool_result':
        results.push({ type: 'tool_result', tool_use_id: item.tool_use_id, is_error: item.is_error, content: item.content.flatMap(toToolResultBlock) });
        break;
      case 'system':
        userBlocks.push(...item.content.map((block): ContentBlockParam => ({ type: 'text', text: `<system-message>\n${block.text}\n</system-message>` })));
        break;
      case 'user':
        userBlocks.push(...item.content.flatMap(toModelBlock));
        break;
      case 'summary':
        userBlocks.push({ type: 'text', text: `${SUMMARY_PREAMBLE}\n<conversation-summary>\n${item.text}\n</conversation-summary>` });
        break;
    }
  }
  flushUser();
  return messages;
}

function toModelBlock(block: UserContentBlock): ContentBlockParam[] {
  switch (block.type) {
    case 'text':
      return [{ type: 'text', text: block.text }];
    case 'redacted':
      return [];
    case 'image':
      if (block.source.type === 'file') return [{ type: 'text', text: `[image file ${block.source.file_id} is not available]` }];
      return [{ type: 'image', source: block.source as Anthropic.Messages.ImageBlockParam['source'] }];
    case 'document':
      if (block.source.type === 'file') return [{ type: 'text', text: `[document file ${block.source.file_id} is not available]` }];
      return [{ type: 'document', source: block.source as Anthropic.Messages.DocumentBlockParam['source'], ...(block.title ? { title: block.title } : {}), ...(block.context ? { context: block.context } : {}) }];
  }
}

type ToolResultBlock = Exclude<ToolResultBlockParam['content'], string | undefined>[number];

function toToolResultBlock(block: ToolResultContentBlock): ToolResultBlock[] {
  switch (block.type) {
    case 'text':
      return [{ type: 'text', text: block.text }];
    case 'search_result':
      return [{ type: 'search_result', source: block.source, title: block.title, content: block.content, ...(block.citations ? { citations: block.citations } : {}) }];
    case 'image':
    case 'document':
      return toModelBlock(block) as ToolResultBlock[];
  }
}
