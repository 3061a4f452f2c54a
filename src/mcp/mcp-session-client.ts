/**
 * Discovering and calling the tools of an agent's MCP server (`mcp_servers` +
 * `mcp_toolset`) from activities, over streamable HTTP.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { classifyMcpFailure, isModelCorrectableToolError, isSessionExpired } from './classify-mcp-failure.ts';
import { openMcpConnection, McpTokenSourceFailure, type McpConnection, type McpTokenSource } from './mcp-connection.ts';
import type { McpConnectionLease, McpConnectionPool } from './mcp-connection-pool.ts';
import { McpConnectionError } from './mcp-errors.ts';
import { toMcpToolOutcome, type McpToolOutcome } from './mcp-tool-outcome.ts';

export type { McpTokenSource } from './mcp-connection.ts';
export type { McpToolOutcome } from './mcp-tool-outcome.ts';
export { McpConnectionPool, type McpConnectionPoolOptions } from './mcp-connection-pool.ts';

/** An entry of the agent's `mcp_servers`. */
export type McpServerRef = { name: string; url: string };

/** A tool as `tools/list` describes it; `inputSchema` is a JSON Schema object. */
export type McpToolInfo = { name: string; description: string; inputSchema: { type: 'object'; [k: string]: unknown } };

export type McpRequestOptions = {
  server: McpServerRef;
  /** Asked once per call (`forceRefresh: false`) and again with `forceRefresh: true` after a 401. */
  token: McpTokenSource;
  /** Limit for the whole call, connecting included; past it the call fails with `McpConnectionError`. Default 60000. */
  timeoutMs?: number | undefined;
  /** Aborting it (an interrupt) cancels the call at the server and rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Reuse initialized sessions across calls. Default: none, so each call opens and ends its own session. */
  pool?: McpConnectionPool | undefined;
};

const DEFAULT_TIMEOUT_MS = 60_000;
/** `tools/list` pages read at most, against a server whose cursors never end. */
const MAX_TOOL_PAGES = 100;
/** Added to the SDK's own per-request timer so the call's deadline is what fires. */
const SDK_TIMEOUT_SLACK_MS = 1_000;

/**
 * Lists the server's tools, following `nextCursor` through every page.
 *
 * @throws McpAuthenticationError when the server refuses the credential (401 after one refresh, or 403).
 * @throws McpConnectionError when it cannot be reached, does not answer in time or does not speak MCP.
 * @example
 * ```ts
 * const tools = await listMcpTools({ server: { name: 'orders', url: 'https://mcp.example.com/mcp' }, token: async () => bearer });
 * ```
 */
export async function listMcpTools(options: McpRequestOptions): Promise<McpToolInfo[]> {
  return withMcpSession(options, async ({ client, signal, timeout }) => {
    const tools = new Map<string, McpToolInfo>();
    const cursorsSeen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const result = await client.listTools(cursor === undefined ? undefined : { cursor }, { signal, timeout });
      for (const tool of result.tools) {
        if (!tools.has(tool.name)) tools.set(tool.name, { name: tool.name, description: tool.description ?? '', inputSchema: tool.inputSchema });
      }
      cursor = result.nextCursor;
      if (cursor === undefined) return [...tools.values()];
      if (cursorsSeen.has(cursor)) break;
      cursorsSeen.add(cursor);
    }
    throw new McpConnectionError({ mcpServerName: options.server.name, message: 'tools/list pages do not end (a cursor repeats or there are too many pages)' });
  });
}

/**
 * Calls one tool. A tool that reports an error, an unknown tool or arguments the
 * server rejects come back as an outcome with `isError: true`, for the model to see.
 *
 * @throws McpAuthenticationError / McpConnectionError as `listMcpTools` does.
 * @example
 * ```ts
 * const outcome = await callMcpTool({ server, token, tool: 'lookup_order', input: { order_id: 'A-1' }, signal });
 * ```
 */
export async function callMcpTool(options: McpRequestOptions & { tool: string; input: Record<string, unknown> }): Promise<McpToolOutcome> {
  const { tool, input } = options;
  return withMcpSession(options, async ({ client, signal, timeout }) => {
    try {
      // Parsed with the SDK's default result schema, CallToolResultSchema; its return type also admits the legacy shape.
      const result = await client.callTool({ name: tool, arguments: input }, undefined, { signal, timeout });
      return toMcpToolOutcome(result as CallToolResult);
    } catch (err) {
      if (!signal.aborted && isModelCorrectableToolError(err)) {
        return { content: [{ type: 'text', text: `MCP tool ${tool} failed: ${err.message.replace(/^MCP error -?\d+: /, '')}` }], isError: true };
      }
      throw err;
    }
  });
}

type SessionWork<T> = (session: { client: Client; signal: AbortSignal; timeout: number }) => Promise<T>;

/**
 * Runs `work` on a session for the server within the call's deadline and signal,
 * retrying once on a new session when a reused one turns out to be forgotten by
 * the server, and turns every failure into an MCP error (or the signal's reason).
 */
async function withMcpSession<T>({ server, token, timeoutMs = DEFAULT_TIMEOUT_MS, signal, pool }: McpRequestOptions, work: SessionWork<T>): Promise<T> {
  signal?.throwIfAborted();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new McpConnectionError({ mcpServerName: server.name, message: `no answer within ${timeoutMs} ms` })), timeoutMs);
  const onAbort = () => deadline.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const aborted = abortedPromise(deadline.signal);
  // Every bearer seen is cut out of error text, whichever request fetched it.
  const secrets = new Set<string>();
  const recordingToken = recordingTokenSource(token, secrets);
  try {
    const bearer = await Promise.race([recordingToken({ forceRefresh: false }), aborted]);
    for (let attempt = 1; ; attempt++) {
      const leasing = leaseSession({ server, token: recordingToken, bearer, pool, signal: deadline.signal, timeoutMs });
      const lease = await Promise.race([leasing, aborted]).catch((err: unknown) => {
        // Given up on before it arrived: hand it back once it does.
        leasing.then((late) => late.release({ healthy: true }), () => {});
        throw err;
      });
      try {
        const result = await Promise.race([work({ client: lease.connection.client, signal: deadline.signal, timeout: timeoutMs + SDK_TIMEOUT_SLACK_MS }), aborted]);
        await lease.release({ healthy: true });
        return result;
      } catch (err) {
        void lease.release({ healthy: false });
        for (const sent of lease.connection.tokensSent) secrets.add(sent);
        if (attempt === 1 && lease.reused && isSessionExpired(err) && !deadline.signal.aborted) continue;
        throw err;
      }
    }
  } catch (err) {
    if (deadline.signal.aborted) throw deadline.signal.reason;
    if (err instanceof McpTokenSourceFailure) throw err.cause;
    throw classifyMcpFailure({ err, mcpServerName: server.name, secrets: [...secrets] });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Without a pool a lease is a session of its own, ended when released. A pooled
 * session is opened under its own time limit rather than this call's signal, since
 * other calls may come to share it.
 */
async function leaseSession({
  server,
  token,
  bearer,
  pool,
  signal,
  timeoutMs,
}: {
  server: McpServerRef;
  token: McpTokenSource;
  bearer: string | undefined;
  pool: McpConnectionPool | undefined;
  signal: AbortSignal;
  timeoutMs: number;
}): Promise<McpConnectionLease> {
  const open = (openSignal: AbortSignal): Promise<McpConnection> =>
    openMcpConnection({ url: server.url, tokenSource: token, token: bearer, signal: openSignal, timeoutMs: timeoutMs + SDK_TIMEOUT_SLACK_MS });
  if (pool) return pool.lease({ url: server.url, token: bearer, open: () => open(AbortSignal.timeout(timeoutMs)) });
  const connection = await open(signal);
  return { connection, reused: false, release: () => connection.close() };
}

/**
 * `token`, adding each bearer it returns to `secrets`. Made outside the call's scope: a pooled
 * session refreshes through the source of the call that opened it for as long as it lives,
 * and a closure made inside the call would keep the whole call (its deadline, its signal's
 * listeners, its async context) reachable with it.
 */
function recordingTokenSource(token: McpTokenSource, secrets: Set<string>): McpTokenSource {
  return async (opts) => {
    const bearer = await token(opts).catch((err: unknown) => {
      throw new McpTokenSourceFailure('the token source failed', { cause: err });
    });
    if (bearer !== undefined) secrets.add(bearer);
    return bearer;
  };
}

/** Rejects with the signal's reason once it aborts; never settles otherwise. */
function abortedPromise(signal: AbortSignal): Promise<never> {
  const promise = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  promise.catch(() => {});
  return promise;
}
