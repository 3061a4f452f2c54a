/**
 * The MCP SDK's client half, loaded by a worker's first MCP connection rather than at
 * start-up: a worker whose sessions name no MCP server never loads it (the client and the
 * JSON-schema validator it brings, ajv).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

export type McpSdk = {
  Client: typeof Client;
  StreamableHTTPClientTransport: typeof StreamableHTTPClientTransport;
  StreamableHTTPError: typeof StreamableHTTPError;
  McpError: typeof McpError;
  ErrorCode: typeof ErrorCode;
};

let loading: Promise<McpSdk> | undefined;
let loaded: McpSdk | undefined;

/** The SDK, loaded once per process. */
export function loadMcpSdk(): Promise<McpSdk> {
  loading ??= (async () => {
    const [{ Client }, { StreamableHTTPClientTransport, StreamableHTTPError }, { ErrorCode, McpError }] = await Promise.all([
      import('@modelcontextprotocol/sdk/client/index.js'),
      import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
      import('@modelcontextprotocol/sdk/types.js'),
    ]);
    loaded = { Client, StreamableHTTPClientTransport, StreamableHTTPError, ErrorCode, McpError };
    return loaded;
  })();
  return loading;
}

/**
 * The SDK when a connection has loaded it, else undefined: an error can be one of the
 * SDK's own only once something loaded the SDK to make it.
 */
export function mcpSdkIfLoaded(): McpSdk | undefined {
  return loaded;
}
