/**
 * A real MCP server (the official SDK's McpServer over streamable HTTP) with bearer
 * auth and an OAuth token endpoint, for tests of agents that use `mcp_servers`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ListToolsRequestSchema, isInitializeRequest, type CallToolResult, type ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { OAuthTokenEndpoint, type McpTestOAuthOptions, type RecordedTokenRequest } from './mcp-oauth-token-endpoint.ts';
import { DEFAULT_TEST_ORDERS, registerBuiltInTools } from './mcp-test-tools.ts';

export type { McpTestOAuthOptions, OAuthClientAuthMethod, RecordedTokenRequest } from './mcp-oauth-token-endpoint.ts';

export type McpTestServerOptions = {
  /** `bearer` (default): every MCP request needs an accepted access token. `none`: no auth. */
  auth?: 'bearer' | 'none' | undefined;
  /** Access tokens accepted at the start. Default none. */
  accessTokens?: readonly string[] | undefined;
  /** Serves `POST /oauth/token` (refresh_token grant); its access tokens are accepted. */
  oauth?: McpTestOAuthOptions | undefined;
  /** `tools/list` answers this many tools a page, with `nextCursor`. Default: all on one page. */
  toolsPageSize?: number | undefined;
  /** Serve `add`, `echo`, `lookup_order`, `fail`, `slow`, `mixed_content`. Default true. */
  builtInTools?: boolean | undefined;
  /** What `lookup_order` knows, by order id. Default two sample orders. */
  orders?: Readonly<Record<string, unknown>> | undefined;
  /** Default 0: any free port. */
  port?: number | undefined;
};

export type McpTestToolConfig<Shape extends z.ZodRawShape> = {
  description?: string | undefined;
  /** Zod shape of the arguments; the SDK validates calls against it. Default: no arguments. */
  inputSchema?: Shape | undefined;
  annotations?: ToolAnnotations | undefined;
};

export type McpTestToolHandler<Shape extends z.ZodRawShape> = (
  args: z.infer<z.ZodObject<Shape>>,
  extra: { signal: AbortSignal; sessionId: string | undefined },
) => CallToolResult | Promise<CallToolResult>;

/** One `tools/call` the server ran. */
export type RecordedMcpToolCall = {
  name: string;
  arguments: Record<string, unknown>;
  sessionId: string | undefined;
  /** `aborted`: the client cancelled it or its session ended while it ran. */
  status: 'running' | 'completed' | 'failed' | 'aborted';
  isError: boolean | undefined;
};

/** One HTTP request. */
export type RecordedMcpHttpRequest = {
  method: string;
  path: string;
  /** The status answered; 0 while unanswered (an open event stream). */
  status: number;
  /** JSON-RPC methods in a POST body (`initialize`, `tools/call`, `notifications/cancelled`…). */
  rpcMethods: string[];
};

type ToolEntry = { name: string; description: string | undefined; schema: z.ZodObject; register(mcp: McpServer): void };

type Waiter = { predicate: () => boolean; resolve: () => void };

const MCP_PATH = '/mcp';
const TOKEN_PATH = '/oauth/token';
const SERVER_INFO = { name: 'longhaul-mcp-test-server', version: '1.0.0' } as const;

/**
 * Each client session gets its own McpServer and transport (stateful streamable
 * HTTP with `Mcp-Session-Id`), serving the same tools.
 *
 * @example
 * ```ts
 * await using mcp = await McpTestServer.start({ accessTokens: ['tok-1'] });
 * const tools = await listMcpTools({ server: { name: 'test', url: mcp.url }, token: async () => 'tok-1' });
 * mcp.registerTool('greet', { inputSchema: { who: z.string() } }, ({ who }) => ({ content: [{ type: 'text', text: `hi ${who}` }] }));
 * assert.deepEqual(mcp.toolCalls.map((c) => c.name), []);
 * ```
 */
export class McpTestServer implements AsyncDisposable {
  readonly #http: Server;
  readonly #auth: 'bearer' | 'none';
  readonly #accepted: Set<string>;
  readonly #forbidden = new Set<string>();
  readonly #oauth: OAuthTokenEndpoint | undefined;
  readonly #pageSize: number | undefined;
  readonly #tools: ToolEntry[] = [];
  readonly #sessions = new Map<string, { transport: StreamableHTTPServerTransport; mcp: McpServer }>();
  readonly #toolCalls: RecordedMcpToolCall[] = [];
  readonly #authorizationHeaders: string[] = [];
  readonly #requests: RecordedMcpHttpRequest[] = [];
  #waiters: Waiter[] = [];
  #sessionsOpened = 0;
  #sessionsDeleted = 0;
  #origin = '';
  #closed: Promise<void> | undefined;

  private constructor(options: McpTestServerOptions) {
    this.#http = createServer();
    this.#auth = options.auth ?? 'bearer';
    this.#accepted = new Set(options.accessTokens ?? []);
    this.#pageSize = options.toolsPageSize;
    this.#oauth = options.oauth ? new OAuthTokenEndpoint(options.oauth, (token) => this.#accepted.add(token)) : undefined;
    if (options.builtInTools ?? true) registerBuiltInTools(this, { orders: options.orders ?? DEFAULT_TEST_ORDERS });
    this.#http.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const record: RecordedMcpHttpRequest = { method: request.method ?? 'GET', path: request.url ?? '/', status: 0, rpcMethods: [] };
      this.#requests.push(record);
      response.on('finish', () => {
        record.status = response.statusCode;
        this.#notify();
      });
      this.#handle(request, response, record).catch(() => {
        if (!response.headersSent) response.writeHead(500).end();
        else response.destroy();
      });
    });
  }

  /** Starts listening on 127.0.0.1. */
  static async start(options: McpTestServerOptions = {}): Promise<McpTestServer> {
    if (options.toolsPageSize !== undefined && !(options.toolsPageSize >= 1)) throw new RangeError('toolsPageSize must be at least 1');
    const server = new McpTestServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#http.once('error', reject);
      server.#http.listen(options.port ?? 0, '127.0.0.1', () => {
        server.#http.off('error', reject);
        resolve();
      });
    });
    const { port } = server.#http.address() as AddressInfo;
    server.#origin = `http://127.0.0.1:${port}`;
    return server;
  }

  /** The MCP endpoint, for `mcp_servers[].url`. */
  get url(): string {
    return `${this.#origin}${MCP_PATH}`;
  }

  /** The OAuth token endpoint (served only with the `oauth` option). */
  get tokenUrl(): string {
    return `${this.#origin}${TOKEN_PATH}`;
  }

  /** Adds access tokens the MCP endpoint accepts. */
  acceptTokens(tokens: readonly string[]): this {
    for (const token of tokens) this.#accepted.add(token);
    return this;
  }

  /** Stops accepting an access token (an expired or revoked credential): 401 from now on. */
  revokeToken(token: string): this {
    this.#accepted.delete(token);
    return this;
  }

  /** Answers requests with this access token 403 `insufficient_scope` (valid, but not allowed). */
  forbidToken(token: string): this {
    this.#forbidden.add(token);
    return this;
  }

  /** Adds refresh tokens the token endpoint accepts. */
  acceptRefreshTokens(tokens: readonly string[]): this {
    this.#requireOAuth().acceptRefreshTokens(tokens);
    return this;
  }

  revokeRefreshToken(token: string): this {
    this.#requireOAuth().revokeRefreshToken(token);
    return this;
  }

  /** Refresh tokens currently valid, rotated ones included. */
  get refreshTokens(): readonly string[] {
    return this.#oauth?.refreshTokens ?? [];
  }

  /** Access tokens issued by the token endpoint so far. */
  get tokenRefreshCount(): number {
    return this.#oauth?.refreshCount ?? 0;
  }

  /** Every token endpoint request, secrets left out. */
  get tokenRequests(): readonly RecordedTokenRequest[] {
    return this.#oauth?.requests ?? [];
  }

  /** Every `Authorization` header received, on any path, in arrival order (for secret scans). */
  get authorizationHeaders(): readonly string[] {
    return this.#authorizationHeaders;
  }

  /** Every tool call run, in arrival order. */
  get toolCalls(): readonly RecordedMcpToolCall[] {
    return this.#toolCalls;
  }

  /** Every HTTP request, in arrival order. */
  get requests(): readonly RecordedMcpHttpRequest[] {
    return this.#requests;
  }

  /** MCP sessions initialized, ended by the client (DELETE), and still open. */
  get sessions(): { opened: number; deleted: number; active: number } {
    return { opened: this.#sessionsOpened, deleted: this.#sessionsDeleted, active: this.#sessions.size };
  }

  /**
   * Adds a tool to every session, open ones included.
   * @throws Error when a tool of that name exists.
   */
  registerTool<Shape extends z.ZodRawShape>(name: string, config: McpTestToolConfig<Shape>, handler: McpTestToolHandler<Shape>): this {
    if (this.#tools.some((tool) => tool.name === name)) throw new Error(`MCP test server: tool ${name} is already registered`);
    const schema = z.object(config.inputSchema ?? ({} as Shape));
    const entry: ToolEntry = {
      name,
      description: config.description,
      schema,
      register: (mcp) => {
        mcp.registerTool<z.ZodRawShape, typeof schema>(
          name,
          { ...(config.description === undefined ? {} : { description: config.description }), inputSchema: schema, ...(config.annotations ? { annotations: config.annotations } : {}) },
          (args, { signal, sessionId }) => this.#runTool({ name, args, signal, sessionId, run: () => handler(args, { signal, sessionId }) }),
        );
      },
    };
    this.#tools.push(entry);
    for (const { mcp } of this.#sessions.values()) entry.register(mcp);
    return this;
  }

  /**
   * Resolves once a call of `name` is running (or has run), e.g. to interrupt it.
   * @throws Error after `timeoutMs` (default 5000).
   */
  waitForToolCall(name: string, { timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<RecordedMcpToolCall> {
    const find = () => this.#toolCalls.find((call) => call.name === name);
    return this.#waitFor(() => find() !== undefined, timeoutMs, `a call of ${name}`).then(() => find() as RecordedMcpToolCall);
  }

  /** Resolves once `predicate` holds, checked after every recorded event. */
  waitFor(predicate: () => boolean, { timeoutMs = 5000, what = 'a condition' }: { timeoutMs?: number; what?: string } = {}): Promise<void> {
    return this.#waitFor(predicate, timeoutMs, what);
  }

  /** Forgets every session, as a restarted server would: their requests get 404 from now on. */
  async dropSessions(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map(({ mcp }) => mcp.close().catch(() => {})));
  }

  /** Ends every session and connection, and stops listening. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.dropSessions();
      await new Promise<void>((resolve) => {
        this.#http.close(() => resolve());
        this.#http.closeAllConnections();
      });
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #handle(request: IncomingMessage, response: ServerResponse, record: RecordedMcpHttpRequest): Promise<void> {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) this.#authorizationHeaders.push(authorization);
    const path = new URL(request.url ?? '/', 'http://mcp-test.invalid').pathname;
    if (path === TOKEN_PATH && this.#oauth) {
      if (request.method !== 'POST') return void response.writeHead(405, { allow: 'POST' }).end();
      const body = await readBody(request);
      this.#oauth.handle({ contentType: request.headers['content-type'], authorization, body }, response);
      return;
    }
    if (path !== MCP_PATH) return void response.writeHead(404).end();
    // The body is read before the auth check so a refused request still shows what it carried.
    let body: unknown;
    if (request.method === 'POST') {
      body = parseJson(await readBody(request));
      record.rpcMethods.push(...rpcMethodsOf(body));
    }
    if (!this.#authorize(authorization, response)) return;
    if (request.method === 'POST' && body === undefined) return jsonRpcError(response, 400, -32700, 'Parse error');
    await this.#handleMcp(request, response, body);
  }

  /** Bearer check (RFC 6750): 401 for a missing or unknown token, 403 for a forbidden one. */
  #authorize(authorization: string | undefined, response: ServerResponse): boolean {
    if (this.#auth === 'none') return true;
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (token === undefined || !this.#accepted.has(token)) {
      const challenge = token === undefined ? 'Bearer realm="mcp"' : 'Bearer realm="mcp", error="invalid_token"';
      response.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'invalid_token', error_description: 'missing, unknown or expired access token' }));
      return false;
    }
    if (this.#forbidden.has(token)) {
      response.writeHead(403, { 'www-authenticate': 'Bearer realm="mcp", error="insufficient_scope"', 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'insufficient_scope' }));
      return false;
    }
    return true;
  }

  async #handleMcp(request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    const sessionId = request.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = this.#sessions.get(sessionId);
      if (!session) return jsonRpcError(response, 404, -32001, 'Session not found');
      return session.transport.handleRequest(request, response, body);
    }
    if (request.method !== 'POST') return jsonRpcError(response, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    if (!isInitializeRequest(body)) return jsonRpcError(response, 400, -32000, 'Bad Request: no session and not an initialize request');
    const transport = this.#openSession();
    await transport.handleRequest(request, response, body);
  }

  #openSession(): StreamableHTTPServerTransport {
    const mcp = new McpServer(SERVER_INFO, { capabilities: { tools: { listChanged: true } } });
    for (const tool of this.#tools) tool.register(mcp);
    if (this.#pageSize !== undefined) this.#servePagedToolList(mcp, this.#pageSize);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.#sessionsOpened++;
        this.#sessions.set(id, { transport, mcp });
      },
      onsessionclosed: (id) => {
        this.#sessionsDeleted++;
        this.#sessions.delete(id);
        this.#notify();
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) this.#sessions.delete(transport.sessionId);
    };
    void mcp.connect(transport);
    return transport;
  }

  /**
   * McpServer lists every tool at once; replacing its handler is how a test gets
   * pages. Schemas are converted the way the SDK converts them (zod 4's JSON Schema).
   */
  #servePagedToolList(mcp: McpServer, pageSize: number): void {
    mcp.server.removeRequestHandler('tools/list');
    mcp.server.setRequestHandler(ListToolsRequestSchema, (request) => {
      const start = request.params?.cursor === undefined ? 0 : Number.parseInt(request.params.cursor, 10);
      const page = this.#tools.slice(start, start + pageSize).map((tool) => ({
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        inputSchema: { ...z.toJSONSchema(tool.schema, { io: 'input' }), type: 'object' as const },
      }));
      const next = start + pageSize;
      return next < this.#tools.length ? { tools: page, nextCursor: String(next) } : { tools: page };
    });
  }

  async #runTool({
    name,
    args,
    signal,
    sessionId,
    run,
  }: {
    name: string;
    args: Record<string, unknown>;
    signal: AbortSignal;
    sessionId: string | undefined;
    run: () => CallToolResult | Promise<CallToolResult>;
  }): Promise<CallToolResult> {
    const call: RecordedMcpToolCall = { name, arguments: { ...args }, sessionId, status: 'running', isError: undefined };
    this.#toolCalls.push(call);
    this.#notify();
    try {
      const result = await run();
      call.status = signal.aborted ? 'aborted' : 'completed';
      call.isError = result.isError === true;
      return result;
    } catch (err) {
      call.status = signal.aborted ? 'aborted' : 'failed';
      throw err;
    } finally {
      this.#notify();
    }
  }

  #requireOAuth(): OAuthTokenEndpoint {
    if (!this.#oauth) throw new Error('MCP test server: started without the oauth option');
    return this.#oauth;
  }

  #waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`MCP test server: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  #notify(): void {
    const ready = this.#waiters.filter((waiter) => waiter.predicate());
    this.#waiters = this.#waiters.filter((waiter) => !ready.includes(waiter));
    for (const waiter of ready) waiter.resolve();
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function rpcMethodsOf(body: unknown): string[] {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.flatMap((message) => {
    const method = (message as { method?: unknown } | null)?.method;
    return typeof method === 'string' ? [method] : [];
  });
}

function jsonRpcError(response: ServerResponse, status: number, code: number, message: string): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}
