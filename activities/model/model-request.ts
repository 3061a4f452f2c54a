import type Anthropic from '@anthropic-ai/sdk';
import { AGENT_TOOLSET, enabledAgentTools } from '../../src/core/agent-toolset.ts';
import { mcpModelToolName, mcpToolConfig, mcpToolsetsOf, type McpToolDescription } from '../../src/core/tool-routing.ts';
import { assembleMessages, type TranscriptItem } from '../../src/core/transcript.ts';
import type { AgentDefinition } from '../../src/schemas/agent.ts';
import { modelId } from '../../src/core/model-id.ts';
import { delegationTools } from '../../src/core/delegation.ts';
import { skillsPrompt } from '../../src/core/skills-prompt.ts';

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
  serverWebTools = false,
  mcpTools = new Map(),
  memoryPrompt,
}: {
  agent: AgentDefinition;
  /** The session's memory section (its stores' mount paths and guidance), after the agent's own system prompt. */
  memoryPrompt?: string | undefined;
  /** What the model sees of the conversation, fitted to the context budget (`fitContext`). */
  transcript: readonly TranscriptItem[];
  maxTokens: number;
  /** Send web_search / web_fetch as Anthropic's server tools (the endpoint runs them). */
  serverWebTools?: boolean;
  /** Discovered tools of the agent's MCP servers, by server name. */
  mcpTools?: ReadonlyMap<string, readonly McpToolDescription[]>;
}): Anthropic.Messages.MessageCreateParamsNonStreaming {
  const tools: Anthropic.Messages.ToolUnion[] = enabledAgentTools(agent.tools).map((name): Anthropic.Messages.ToolUnion => {
    if (serverWebTools && name === 'web_search') return { type: 'web_search_20250305', name: 'web_search' };
    if (serverWebTools && name === 'web_fetch') return { type: 'web_fetch_20250910', name: 'web_fetch' };
    return { ...AGENT_TOOLSET[name] };
  });
  if (agent.roster?.length) tools.push(...delegationTools(agent.roster));
  for (const tool of agent.tools) {
    if (tool.type === 'custom') tools.push({ name: tool.name, description: tool.description, input_schema: tool.input_schema as Anthropic.Messages.Tool['input_schema'] });
  }
  for (const { toolset, server } of mcpToolsetsOf(agent)) {
    for (const tool of mcpTools.get(server.name) ?? []) {
      if (!mcpToolConfig(toolset, tool.name).enabled) continue;
      tools.push({ name: mcpModelToolName(server.name, tool.name), description: tool.description, input_schema: tool.inputSchema as Anthropic.Messages.Tool['input_schema'] });
    }
  }
  const lastTool = tools.at(-1);
  if (lastTool) tools[tools.length - 1] = { ...lastTool, cache_control: { type: 'ephemeral' } } as Anthropic.Messages.ToolUnion;
  const messages = withCacheBreakpoint(assembleMessages(transcript));
  return {
    model: modelId(agent.model),
    max_tokens: maxTokens,
    messages,
    ...systemPrompt([agent.system, skillsPrompt(agent.skills), memoryPrompt]),
    ...(tools.length > 0 ? { tools } : {}),
  };
}

/** The system blocks, the last one a cache breakpoint; none when there is no text. */
function systemPrompt(parts: readonly (string | null | undefined)[]): { system?: Anthropic.Messages.TextBlockParam[] } {
  const texts = parts.filter((part): part is string => !!part);
  if (texts.length === 0) return {};
  return { system: texts.map((text, i) => ({ type: 'text', text, ...(i === texts.length - 1 ? { cache_control: { type: 'ephemeral' as const } } : {}) })) };
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
