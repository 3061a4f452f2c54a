import type { McpServerDefinition } from '../src/schemas/agent.ts';
import type { McpToolDescription } from '../src/core/tool-routing.ts';
import type { ToolResultContentBlock } from '../src/schemas/events.ts';

/**
 * How activities reach MCP servers: discovery for the model request, calls for
 * tool uses. Credentials come from the session's vaults inside the gateway;
 * they never pass through the workflow.
 */
export interface McpGateway {
  listTools(server: McpServerDefinition, vaultIds: readonly string[], signal?: AbortSignal): Promise<McpToolDescription[]>;
  callTool(request: {
    server: McpServerDefinition;
    vaultIds: readonly string[];
    tool: string;
    input: Record<string, unknown>;
    signal?: AbortSignal | undefined;
    timeoutMs?: number | undefined;
  }): Promise<{ content: ToolResultContentBlock[]; isError: boolean }>;
}

/** The `session.error` object for an MCP failure; an error without a recognised name counts as a connection failure. */
export function mcpSessionError(err: unknown, serverName: string, retryStatus: 'retrying' | 'exhausted' | 'terminal') {
  const name = err instanceof Error ? err.name : '';
  const type = name === 'McpAuthenticationError' ? ('mcp_authentication_failed_error' as const) : ('mcp_connection_failed_error' as const);
  const message = err instanceof Error ? err.message : String(err);
  return { type, mcp_server_name: serverName, message, retry_status: { type: retryStatus } };
}
