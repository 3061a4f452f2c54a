import type Anthropic from '@anthropic-ai/sdk';
import { AGENT_TOOLSET, enabledAgentTools } from '../../src/core/agent-toolset.ts';
import { fitToContextBudget } from '../../src/core/context-budget.ts';
import { assembleMessages, type TranscriptItem } from '../../src/core/transcript.ts';
import { modelId, type AgentDefinition } from '../../src/schemas/agent.ts';

type MessageParam = Anthropic.Messages.MessageParam;

/**
 * Builds the Messages API request for the next turn from the agent and the
 * transcript, with prompt caching on: breakpoints on the tools, the system
 * prompt and the newest message, so each step re-reads the prefix from cache.
 */
export function buildModelRequest({
  agent,
  transcript,
  maxTokens,
  contextBudgetBytes,
  serverWebTools = false,
}: {
  agent: AgentDefinition;
  transcript: readonly TranscriptItem[];
  maxTokens: number;
  /** Transcript size above which old tool outputs are cleared. */
  contextBudgetBytes: number;
  /** Send web_search / web_fetch as Anthropic's server tools (the endpoint runs them). */
  serverWebTools?: boolean;
}): Anthropic.Messages.MessageCreateParamsNonStreaming {
  const tools: Anthropic.Messages.ToolUnion[] = enabledAgentTools(agent.tools).map((name): Anthropic.Messages.ToolUnion => {
    if (serverWebTools && name === 'web_search') return { type: 'web_search_20250305', name: 'web_search' };
    if (serverWebTools && name === 'web_fetch') return { type: 'web_fetch_20250910', name: 'web_fetch' };
    return { ...AGENT_TOOLSET[name] };
  });
  const lastTool = tools.at(-1);
  if (lastTool) tools[tools.length - 1] = { ...lastTool, cache_control: { type: 'ephemeral' } } as Anthropic.Messages.ToolUnion;
  const messages = withCacheBreakpoint(assembleMessages(fitToContextBudget(transcript, contextBudgetBytes)));
  return {
    model: modelId(agent.model),
    max_tokens: maxTokens,
    messages,
    ...(agent.system ? { system: [{ type: 'text', text: agent.system, cache_control: { type: 'ephemeral' } }] } : {}),
    ...(tools.length > 0 ? { tools } : {}),
  };
}

function withCacheBreakpoint(messages: MessageParam[]): MessageParam[] {
  const last = messages.at(-1);
  if (!last) return messages;
  const content: Anthropic.Messages.ContentBlockParam[] = typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : [...last.content];
  const lastBlock = content.at(-1);
  if (!lastBlock || lastBlock.type === 'thinking' || lastBlock.type === 'redacted_thinking') return messages;
  content[content.length - 1] = { ...lastBlock, cache_control: { type: 'ephemeral' } } as Anthropic.Messages.ContentBlockParam;
  return [...messages.slice(0, -1), { ...last, content } as MessageParam];
}
