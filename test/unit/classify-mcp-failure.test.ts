import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError as JsonRpcError } from '@modelcontextprotocol/sdk/types.js';
import { classifyMcpFailure, isModelCorrectableToolError, isSessionExpired } from '../../src/mcp/classify-mcp-failure.ts';
import { MCP_FAILURE_TYPES, McpAuthenticationError, McpConnectionError, mcpSessionErrorFromFailure, mcpSessionErrorObject } from '../../src/mcp/mcp-errors.ts';
import { loadMcpSdk } from '../../src/mcp/mcp-sdk.ts';

// A worker loads the SDK with its first MCP connection, before any of its errors can exist.
await loadMcpSdk();

const SECRET = 'tok-secret-c0ffee';

function fetchFailed(code: string): TypeError {
  const cause = Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code });
  return new TypeError('fetch failed', { cause });
}

test('failure table: which class, and what the message says', () => {
  const table: [unknown, typeof McpAuthenticationError | typeof McpConnectionError, RegExp][] = [
    [new StreamableHTTPError(401, 'Error POSTing to endpoint: {"error":"invalid_token"}'), McpAuthenticationError, /HTTP 401/],
    [new StreamableHTTPError(403, 'Error POSTing to endpoint: forbidden'), McpAuthenticationError, /HTTP 403/],
    [new StreamableHTTPError(404, 'Error POSTing to endpoint: Not Found'), McpConnectionError, /HTTP 404: Error POSTing to endpoint: Not Found$/],
    [new StreamableHTTPError(502, 'Error POSTing to endpoint: bad gateway'), McpConnectionError, /HTTP 502/],
    [new StreamableHTTPError(-1, 'Unexpected content type: text/html'), McpConnectionError, /an unexpected answer: Unexpected content type: text\/html/],
    [fetchFailed('ECONNREFUSED'), McpConnectionError, /cannot reach the server: connection refused$/],
    [fetchFailed('ENOTFOUND'), McpConnectionError, /cannot reach the server: host not found$/],
    [fetchFailed('ECONNABORTED'), McpConnectionError, /cannot reach the server: ECONNABORTED$/],
    [new TypeError('fetch failed', { cause: new Error('self-signed certificate') }), McpConnectionError, /cannot reach the server: self-signed certificate$/],
    [new JsonRpcError(ErrorCode.ConnectionClosed, 'Connection closed'), McpConnectionError, /connection closed before the server answered/],
    [new JsonRpcError(ErrorCode.MethodNotFound, 'Method not found'), McpConnectionError, /JSON-RPC error -32601: Method not found$/],
    [Object.assign(new Error('[{"code":"invalid_type"}]'), { name: 'ZodError' }), McpConnectionError, /not valid MCP/],
    [new Error('something else'), McpConnectionError, /something else/],
  ];
  for (const [err, expectedClass, pattern] of table) {
    const classified = classifyMcpFailure({ err, mcpServerName: 'crm', secrets: [SECRET] });
    assert.ok(classified instanceof expectedClass, `${String(err)} -> ${classified.name}`);
    assert.equal(classified.mcpServerName, 'crm');
    assert.match(classified.message, /^MCP server "crm": /);
    assert.match(classified.message, pattern);
  }
});

test('text from the failure is redacted and kept short', () => {
  const echoed = new StreamableHTTPError(500, `Error POSTing to endpoint: saw Authorization: Bearer ${SECRET} ${'x'.repeat(1000)}`);
  const classified = classifyMcpFailure({ err: echoed, mcpServerName: 'crm', secrets: [SECRET] });
  assert.ok(!classified.message.includes(SECRET));
  assert.match(classified.message, /Bearer \[redacted\]/);
  assert.ok(classified.message.length < 400, `${classified.message.length} chars`);
  // A secret cut in half by the length limit must not leave its start behind either.
  const long = new StreamableHTTPError(500, `${'y'.repeat(287)}${SECRET}`);
  assert.ok(!classifyMcpFailure({ err: long, mcpServerName: 'crm', secrets: [SECRET] }).message.includes(SECRET.slice(0, 3)));
});

test('MCP errors pass through unchanged', () => {
  const original = new McpAuthenticationError({ mcpServerName: 'crm', message: 'refused' });
  assert.equal(classifyMcpFailure({ err: original, mcpServerName: 'other', secrets: [] }), original);
});

test('which failures are model-correctable or a forgotten session', () => {
  assert.equal(isModelCorrectableToolError(new JsonRpcError(ErrorCode.InvalidParams, 'Tool x not found')), true);
  assert.equal(isModelCorrectableToolError(new JsonRpcError(ErrorCode.InternalError, 'boom')), false);
  assert.equal(isModelCorrectableToolError(new Error('Tool x not found')), false);
  assert.equal(isSessionExpired(new StreamableHTTPError(404, 'Session not found')), true);
  assert.equal(isSessionExpired(new StreamableHTTPError(400, 'Bad Request')), false);
});

test('session.error objects carry the SDK shapes', () => {
  const connection = new McpConnectionError({ mcpServerName: 'crm', message: 'cannot reach the server: connection refused' });
  assert.deepEqual(mcpSessionErrorObject({ error: connection, retryStatus: { type: 'retrying' } }), {
    type: 'mcp_connection_failed_error',
    mcp_server_name: 'crm',
    message: 'MCP server "crm": cannot reach the server: connection refused',
    retry_status: { type: 'retrying' },
  });
  const auth = new McpAuthenticationError({ mcpServerName: 'crm', message: 'refused' });
  assert.equal(mcpSessionErrorObject({ error: auth, retryStatus: { type: 'terminal' } }).type, 'mcp_authentication_failed_error');
  assert.equal(auth.retryable, false);
  assert.equal(connection.retryable, true);
  assert.deepEqual(mcpSessionErrorFromFailure({ failureType: MCP_FAILURE_TYPES.authentication, mcpServerName: 'crm', message: 'm', retryStatus: { type: 'exhausted' } }), {
    type: 'mcp_authentication_failed_error',
    mcp_server_name: 'crm',
    message: 'm',
    retry_status: { type: 'exhausted' },
  });
});
