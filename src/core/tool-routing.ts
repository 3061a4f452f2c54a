import type { AgentDefinition, AgentToolName, McpServerDefinition, McpToolsetDefinition, ToolDefinition } from '../schemas/agent.ts';
import { AGENT_TOOLSET } from './agent-toolset.ts';
import { DELEGATION_TOOLS } from './delegation.ts';

export type PermissionPolicyType = 'always_allow' | 'always_ask' | 'auto';

/** How the loop handles a model's call of a tool name. */
export type ToolRoute =
  | { kind: 'builtin'; name: AgentToolName; policy: PermissionPolicyType }
  | { kind: 'custom'; name: string }
  | { kind: 'mcp'; name: string; server: McpServerDefinition; tool: string; policy: PermissionPolicyType }
  /** A delegation tool of a coordinator (`delegation.ts`): the workflow acts on it. */
  | { kind: 'delegation'; name: string };

/** An MCP tool as discovered on its server. */
export type McpToolDescription = { name: string; description: string; inputSchema: { type: 'object'; [k: string]: unknown } };

/**
 * MCP tools reach the model under a prefixed name so two servers can both have
 * a `search`; the Messages API allows only `[a-zA-Z0-9_-]{1,64}`.
 */
export function mcpModelToolName(serverName: string, toolName: string): string {
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9_-]/g, '_');
  return `mcp__${clean(serverName)}__${clean(toolName)}`.slice(0, 64);
}

/** The agent's MCP toolsets with their server definitions (a toolset naming no declared server is skipped). */
export function mcpToolsetsOf(agent: Pick<AgentDefinition, 'tools' | 'mcp_servers'>): { toolset: McpToolsetDefinition; server: McpServerDefinition }[] {
  const servers = agent.mcp_servers ?? [];
  return agent.tools.flatMap((tool) => {
    if (tool.type !== 'mcp_toolset') return [];
    const server = servers.find((s) => s.name === tool.mcp_server_name);
    return server ? [{ toolset: tool, server }] : [];
  });
}

/** Whether an MCP tool is enabled, and its policy. MCP tools ask by default: they reach other systems. */
export function mcpToolConfig(toolset: McpToolsetDefinition, toolName: string): { enabled: boolean; policy: PermissionPolicyType } {
  const config = toolset.configs?.find((c) => c.name === toolName);
  return {
    enabled: config?.enabled ?? toolset.default_config?.enabled ?? true,
    policy: config?.permission_policy?.type ?? toolset.default_config?.permission_policy?.type ?? 'always_ask',
  };
}

/** Policy of a built-in tool: its own config, then its toolset's default, then `always_allow`. */
export function builtinToolPolicy(tools: readonly ToolDefinition[], name: AgentToolName): PermissionPolicyType {
  for (const toolset of tools) {
    if (toolset.type !== 'agent_toolset_20260401') continue;
    const config = toolset.configs?.find((c) => c.name === name);
    const enabled = config?.enabled ?? toolset.default_config?.enabled ?? true;
    if (!enabled) continue;
    return config?.permission_policy?.type ?? toolset.default_config?.permission_policy?.type ?? 'always_allow';
  }
  return 'always_allow';
}

/**
 * Routes for every tool the model was offered: built-ins, custom tools, and the
 * discovered tools of MCP servers (`mcpTools` by server name).
 */
export function toolRoutes(agent: Pick<AgentDefinition, 'tools' | 'mcp_servers' | 'roster'>, mcpTools: ReadonlyMap<string, readonly McpToolDescription[]>): Map<string, ToolRoute> {
  const routes = new Map<string, ToolRoute>();
  if (agent.roster?.length) for (const name of DELEGATION_TOOLS) routes.set(name, { kind: 'delegation', name });
  for (const name of Object.keys(AGENT_TOOLSET) as AgentToolName[]) routes.set(name, { kind: 'builtin', name, policy: builtinToolPolicy(agent.tools, name) });
  for (const tool of agent.tools) if (tool.type === 'custom') routes.set(tool.name, { kind: 'custom', name: tool.name });
  for (const { toolset, server } of mcpToolsetsOf(agent)) {
    for (const tool of mcpTools.get(server.name) ?? []) {
      const { enabled, policy } = mcpToolConfig(toolset, tool.name);
      if (enabled) routes.set(mcpModelToolName(server.name, tool.name), { kind: 'mcp', name: mcpModelToolName(server.name, tool.name), server, tool: tool.name, policy });
    }
  }
  return routes;
}
