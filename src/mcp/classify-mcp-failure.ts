/**
 * The one place that decides what a failure talking to an MCP server means.
 */
import type { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpError as JsonRpcError } from '@modelcontextprotocol/sdk/types.js';
import { McpAuthenticationError, McpConnectionError } from './mcp-errors.ts';
import { mcpSdkIfLoaded } from './mcp-sdk.ts';

const MAX_DETAIL_CHARS = 300;

const NETWORK_ERROR_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
};

/**
 * A JSON-RPC error the server answered `tools/call` with that the model caused and
 * can correct (unknown tool, arguments that do not fit the schema): the MCP spec
 * reports those as protocol errors, but to the agent they are a failed tool call.
 */
export function isModelCorrectableToolError(err: unknown): err is JsonRpcError {
  return isJsonRpcError(err) && err.code === mcpSdkIfLoaded()?.ErrorCode.InvalidParams;
}

/** HTTP 404 on a request that carried a session id: the server forgot the session (spec: start a new one). */
export function isSessionExpired(err: unknown): boolean {
  return isStreamableHttpError(err) && err.code === 404;
}

function isJsonRpcError(err: unknown): err is JsonRpcError {
  const sdk = mcpSdkIfLoaded();
  return sdk !== undefined && err instanceof sdk.McpError;
}

function isStreamableHttpError(err: unknown): err is StreamableHTTPError {
  const sdk = mcpSdkIfLoaded();
  return sdk !== undefined && err instanceof sdk.StreamableHTTPError;
}

/**
 * Maps any failure of an MCP exchange to `McpAuthenticationError` (HTTP 401/403) or
 * `McpConnectionError` (everything else). `secrets` are cut out of any text taken
 * from the failure, since a server may echo what it was sent.
 */
export function classifyMcpFailure({ err, mcpServerName, secrets }: { err: unknown; mcpServerName: string; secrets: readonly string[] }): McpAuthenticationError | McpConnectionError {
  if (err instanceof McpAuthenticationError || err instanceof McpConnectionError) return err;
  if (isStreamableHttpError(err) && (err.code === 401 || err.code === 403)) {
    const message = err.code === 401 ? 'the server rejected the credential (HTTP 401), also after a token refresh' : 'the server refused access (HTTP 403)';
    return new McpAuthenticationError({ mcpServerName, message });
  }
  return new McpConnectionError({ mcpServerName, message: truncate(redact(describeFailure(err), secrets)) });
}

function describeFailure(err: unknown): string {
  if (isStreamableHttpError(err)) {
    // The SDK uses -1 for an answer that was not JSON or an event stream.
    const status = err.code === undefined || err.code < 0 ? 'an unexpected answer' : `HTTP ${err.code}`;
    return `${status}: ${err.message.replace(/^Streamable HTTP error: /, '')}`;
  }
  if (isJsonRpcError(err)) {
    if (err.code === mcpSdkIfLoaded()?.ErrorCode.ConnectionClosed) return 'the connection closed before the server answered';
    return `the server answered with JSON-RPC error ${err.code}: ${err.message.replace(/^MCP error -?\d+: /, '')}`;
  }
  if (err instanceof Error && err.name === 'ZodError') return 'the server sent a message that is not valid MCP';
  const network = networkErrorCode(err);
  if (network !== undefined) return `cannot reach the server: ${NETWORK_ERROR_TEXT[network] ?? network}`;
  if (err instanceof TypeError && err.message === 'fetch failed') {
    return `cannot reach the server${err.cause instanceof Error ? `: ${err.cause.message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** undici puts the socket's error code on `cause` (sometimes one level deeper). */
function networkErrorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (code in NETWORK_ERROR_TEXT || /^E[A-Z]+$/.test(code))) return code;
    current = current.cause;
  }
  return undefined;
}

function truncate(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}…` : text;
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('[redacted]');
  return out;
}
