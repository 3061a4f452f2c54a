/**
 * Failures of an agent's MCP server, and the `session.error` objects they become.
 * Messages name the server and what went wrong, never a credential: they reach
 * logs, Temporal failures and the event log.
 */
import type {
  BetaManagedAgentsMCPAuthenticationFailedErrorObject as McpAuthenticationFailedErrorObject,
  BetaManagedAgentsMCPConnectionFailedErrorObject as McpConnectionFailedErrorObject,
} from '@anthropic-ai/sdk/resources/beta/sessions/events';
import type { RetryStatus } from '../schemas/events.ts';

export type { McpAuthenticationFailedErrorObject, McpConnectionFailedErrorObject };

/**
 * `ApplicationFailure.type` names for MCP failures, so workflows branch on the
 * type instead of `instanceof` (error classes do not survive the boundary).
 */
export const MCP_FAILURE_TYPES = {
  connection: 'McpConnectionError',
  authentication: 'McpAuthenticationError',
} as const;
export type McpFailureType = (typeof MCP_FAILURE_TYPES)[keyof typeof MCP_FAILURE_TYPES];

/**
 * The server could not be reached or did not speak MCP: DNS, refused connection,
 * timeout, an HTTP error status other than 401/403, a malformed or JSON-RPC error
 * answer. Worth retrying: the server may come back.
 */
export class McpConnectionError extends Error {
  override readonly name = MCP_FAILURE_TYPES.connection;
  readonly mcpServerName: string;
  readonly retryable = true;
  constructor({ mcpServerName, message }: { mcpServerName: string; message: string }) {
    super(`MCP server "${mcpServerName}": ${message}`);
    this.mcpServerName = mcpServerName;
  }
}

/**
 * The server refused our credentials (401 after one forced token refresh, or 403).
 * Not worth retrying as is: the credential must change first.
 */
export class McpAuthenticationError extends Error {
  override readonly name = MCP_FAILURE_TYPES.authentication;
  readonly mcpServerName: string;
  readonly retryable = false;
  constructor({ mcpServerName, message }: { mcpServerName: string; message: string }) {
    super(`MCP server "${mcpServerName}": ${message}`);
    this.mcpServerName = mcpServerName;
  }
}

export type McpError = McpConnectionError | McpAuthenticationError;

export function isMcpError(err: unknown): err is McpError {
  return err instanceof McpConnectionError || err instanceof McpAuthenticationError;
}

/**
 * The `session.error` object for an MCP failure, e.g.
 * `{ type: 'session.error', error: mcpSessionErrorObject({ error, retryStatus: { type: 'retrying' } }) }`.
 */
export function mcpSessionErrorObject({ error, retryStatus }: { error: McpConnectionError; retryStatus: RetryStatus }): McpConnectionFailedErrorObject;
export function mcpSessionErrorObject({ error, retryStatus }: { error: McpAuthenticationError; retryStatus: RetryStatus }): McpAuthenticationFailedErrorObject;
export function mcpSessionErrorObject({ error, retryStatus }: { error: McpError; retryStatus: RetryStatus }): McpConnectionFailedErrorObject | McpAuthenticationFailedErrorObject;
export function mcpSessionErrorObject({ error, retryStatus }: { error: McpError; retryStatus: RetryStatus }): McpConnectionFailedErrorObject | McpAuthenticationFailedErrorObject {
  return mcpSessionErrorFromFailure({ failureType: error.name, mcpServerName: error.mcpServerName, message: error.message, retryStatus });
}

/**
 * The same object from the plain parts of a failure that crossed the activity
 * boundary (its `ApplicationFailure.type`, the server name in its details, its message).
 */
export function mcpSessionErrorFromFailure({
  failureType,
  mcpServerName,
  message,
  retryStatus,
}: {
  failureType: McpFailureType;
  mcpServerName: string;
  message: string;
  retryStatus: RetryStatus;
}): McpConnectionFailedErrorObject | McpAuthenticationFailedErrorObject {
  const type = failureType === MCP_FAILURE_TYPES.authentication ? 'mcp_authentication_failed_error' : 'mcp_connection_failed_error';
  return { type, mcp_server_name: mcpServerName, message, retry_status: retryStatus };
}
