import type { McpServerDefinition } from '../src/schemas/agent.ts';
import type { McpToolDescription } from '../src/core/tool-routing.ts';
import type { RetryStatus, ToolResultContentBlock } from '../src/schemas/events.ts';
import { MCP_FAILURE_TYPES, McpAuthenticationError, mcpSessionErrorFromFailure } from '../src/mcp/mcp-errors.ts';

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

/**
 * The `session.error` object for an MCP failure. A refused credential is `terminal`
 * (it needs attention, not another try); anything else counts as a connection
 * failure, `exhausted` unless the caller says otherwise.
 */
export function mcpSessionError(err: unknown, serverName: string, retryStatus?: RetryStatus['type']) {
  const auth = err instanceof McpAuthenticationError;
  return mcpSessionErrorFromFailure({
    failureType: auth ? MCP_FAILURE_TYPES.authentication : MCP_FAILURE_TYPES.connection,
    mcpServerName: serverName,
    message: err instanceof Error ? err.message : String(err),
    retryStatus: { type: retryStatus ?? (auth ? 'terminal' : 'exhausted') },
  });
}
