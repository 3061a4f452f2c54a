import type { McpServerDefinition } from '../src/schemas/agent.ts';
import { McpAuthenticationError } from '../src/mcp/mcp-errors.ts';
import { callMcpTool, listMcpTools, McpConnectionPool, type McpTokenSource } from '../src/mcp/mcp-session-client.ts';
import type { McpToolDescription } from '../src/core/tool-routing.ts';
import type { CredentialResolver } from '../src/vaults/credential-resolver.ts';
import type { McpGateway } from './mcp-gateway.ts';

export type VaultMcpGatewayOptions = {
  /** Reads bearer tokens from the session's vaults; without it servers are called without credentials. */
  credentials?: Pick<CredentialResolver, 'mcpAccess'> | undefined;
  /** How long a server's tool list is reused between model requests. Default 60 s. */
  toolListTtlMs?: number;
  /** Per-request timeout when the call gives none. Default 60 s. */
  timeoutMs?: number;
};

/**
 * The worker's way to MCP servers: credentials from the session's vaults are
 * looked up (and refreshed) here, so they never pass through the workflow, the
 * model or the log. Sessions with one server and credential share a pooled
 * MCP session, and tool lists are cached briefly, so a step costs one request.
 */
export function createVaultMcpGateway({ credentials, toolListTtlMs = 60_000, timeoutMs = 60_000 }: VaultMcpGatewayOptions = {}): McpGateway & AsyncDisposable {
  const pool = new McpConnectionPool();
  const toolLists = new Map<string, { at: number; tools: Promise<McpToolDescription[]> }>();

  const tokenSource = (server: McpServerDefinition, vaultIds: readonly string[]): McpTokenSource => {
    return async ({ forceRefresh }) => {
      if (!credentials || vaultIds.length === 0) return undefined;
      try {
        return (await credentials.mcpAccess([...vaultIds], server.url, { forceRefresh }))?.token;
      } catch (err) {
        // A refresh the token endpoint refused will not heal by retrying: the credential needs attention.
        throw new McpAuthenticationError({ mcpServerName: server.name, message: err instanceof Error ? err.message : String(err) });
      }
    };
  };

  return {
    listTools(server, vaultIds, signal) {
      const key = JSON.stringify([server.url, [...vaultIds]]);
      const cached = toolLists.get(key);
      if (cached && Date.now() - cached.at < toolListTtlMs) return cached.tools;
      const tools = listMcpTools({ server, token: tokenSource(server, vaultIds), timeoutMs, pool, ...(signal ? { signal } : {}) });
      toolLists.set(key, { at: Date.now(), tools });
      // A failed listing is not remembered: the next request tries again.
      tools.catch(() => toolLists.delete(key));
      return tools;
    },

    async callTool({ server, vaultIds, tool, input, signal, timeoutMs: callTimeoutMs }) {
      const outcome = await callMcpTool({ server, token: tokenSource(server, vaultIds), tool, input, timeoutMs: callTimeoutMs ?? timeoutMs, pool, ...(signal ? { signal } : {}) });
      return { content: outcome.content, isError: outcome.isError };
    },

    async [Symbol.asyncDispose]() {
      await pool[Symbol.asyncDispose]();
    },
  };
}
