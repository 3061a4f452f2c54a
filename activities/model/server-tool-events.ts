import type Anthropic from '@anthropic-ai/sdk';
import type { NewEvent } from '../../src/store/session-store.ts';
import { deterministicId } from '../../src/store/ids.ts';

import type { AnswerBlock } from '../../src/core/transcript.ts';

/**
 * Events for the blocks of one model answer. Anthropic's server-side tools
 * (web search, web fetch) arrive already run, as a `server_tool_use` block and
 * its result block: they become the same `agent.tool_use` / `agent.tool_result`
 * pair a sandbox tool produces, with nothing for the worker to execute. A
 * `compaction` block (the endpoint compacted the context before answering) is
 * `agent.thread_context_compacted`.
 */
export function answerEvents({
  sessionId,
  callKey,
  content,
  toolUseEvent = (block) => ({ type: 'agent.tool_use', name: block.name, input: (block.input ?? {}) as Record<string, unknown>, evaluated_permission: 'allow', evaluation: { type: 'always_allow' } }),
}: {
  sessionId: string;
  callKey: string;
  content: AnswerBlock[];
  /** The event for a (client-side) `tool_use` block: built-in, MCP or custom, with its permission. */
  toolUseEvent?: (block: Anthropic.Messages.ToolUseBlock) => NewEvent['event'];
}): NewEvent[] {
  const keyOf = (index: number) => `${callKey}:block:${index}`;
  const serverUseIndex = new Map(content.flatMap((block, index) => (block.type === 'server_tool_use' ? [[block.id, index] as const] : [])));
  return content.flatMap((block, index): NewEvent[] => {
    const key = keyOf(index);
    switch (block.type) {
      case 'text':
        return [{ key, event: { type: 'agent.message', content: [{ type: 'text', text: block.text }] } }];
      case 'thinking':
      case 'redacted_thinking':
        return [{ key, event: { type: 'agent.thinking' } }];
      case 'tool_use':
        return [{ key, event: toolUseEvent(block) }];
      case 'compaction':
        return [{ key, event: { type: 'agent.thread_context_compacted' } }];
      case 'server_tool_use':
        return [{ key, event: { type: 'agent.tool_use', name: block.name, input: (block.input ?? {}) as Record<string, unknown>, evaluated_permission: 'allow', evaluation: { type: 'always_allow' } } }];
      case 'web_search_tool_result':
      case 'web_fetch_tool_result': {
        const useIndex = serverUseIndex.get(block.tool_use_id);
        if (useIndex === undefined) return [];
        const { text, isError } = describeServerToolResult(block);
        return [{ key, event: { type: 'agent.tool_result', tool_use_id: deterministicId('sevt', sessionId, keyOf(useIndex)), content: [{ type: 'text', text }], is_error: isError } }];
      }
      default:
        return [];
    }
  });
}

function describeServerToolResult(block: Anthropic.Messages.WebSearchToolResultBlock | Anthropic.Messages.WebFetchToolResultBlock): { text: string; isError: boolean } {
  if (block.type === 'web_search_tool_result') {
    if (!Array.isArray(block.content)) return { text: `web search failed: ${block.content.error_code}`, isError: true };
    return { text: block.content.map((r, i) => `${i + 1}. ${r.title}\n   ${r.url}`).join('\n') || 'No results.', isError: false };
  }
  if (block.content.type === 'web_fetch_tool_result_error') return { text: `web fetch failed: ${block.content.error_code}`, isError: true };
  const doc = block.content.content;
  const body = doc.source.type === 'text' ? doc.source.data : `[${doc.source.media_type} document]`;
  return { text: `${block.content.url}\n\n${body}`, isError: false };
}
