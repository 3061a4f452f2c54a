import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ClientAuth = 'none' | 'client_secret_basic' | 'client_secret_post';

/** One request the token endpoint received, as parsed. */
export type TokenRequest = { form: Record<string, string>; authorization: string | undefined; contentType: string | undefined };

export type OAuthTestServerOptions = {
  clientId: string;
  clientSecret?: string;
  clientAuth: ClientAuth;
  /** The refresh token the endpoint accepts at first. */
  refreshToken: string;
  /** Access tokens the MCP endpoint accepts at first. */
  accessTokens?: string[];
  /** Issue a new refresh token with every refresh, invalidating the old one (as most servers do). Default true. */
  rotateRefreshTokens?: boolean;
  /** `expires_in` of issued tokens, seconds; null leaves it out of responses. Default 3600. */
  expiresInSeconds?: number | null;
};

/**
 * An OAuth token endpoint (`POST /token`, refresh-token grant only) and a protected
 * MCP endpoint (`POST /mcp`) on 127.0.0.1, strict about client authentication, so
 * tests exercise a real HTTP exchange. Tokens issued are `access-<n>` / `refresh-<n>`.
 */
export class OAuthTestServer {
  readonly requests: TokenRequest[] = [];
  /** Bearer tokens of the MCP POSTs received, in order ('' for none). */
  readonly mcpAuthorizations: string[] = [];
  readonly validAccessTokens: Set<string>;
  validRefreshToken: string;
  /** When set, the token endpoint answers this instead of doing its job. */
  failWith: { status: number; body: Record<string, unknown> } | undefined;
  /** Milliseconds the token endpoint waits before answering. */
  tokenDelayMs = 0;
  readonly #options: OAuthTestServerOptions;
  readonly #server = createServer((req, res) => void this.#handle(req, res));
  #issued = 0;
  #url = '';

  private constructor(options: OAuthTestServerOptions) {
    this.#options = options;
    this.validRefreshToken = options.refreshToken;
    this.validAccessTokens = new Set(options.accessTokens ?? []);
  }

  static async start(options: OAuthTestServerOptions): Promise<OAuthTestServer> {
    const server = new OAuthTestServer(options);
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    server.#url = `http://127.0.0.1:${(server.#server.address() as AddressInfo).port}`;
    return server;
  }

  get tokenEndpoint(): string {
    return `${this.#url}/token`;
  }

  get mcpUrl(): string {
    return `${this.#url}/mcp`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'POST' && req.url === '/token') return this.#token(req, body, res);
    if (req.url === '/mcp' || req.url?.startsWith('/mcp/')) return this.#mcp(req, res);
    res.writeHead(404).end();
  }

  async #token(req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
    const form = Object.fromEntries(new URLSearchParams(body));
    this.requests.push({ form, authorization: req.headers.authorization, contentType: req.headers['content-type'] });
    if (this.tokenDelayMs > 0) await new Promise((r) => setTimeout(r, this.tokenDelayMs));
    const reply = (status: number, payload: Record<string, unknown>): void => void res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(payload));
    if (this.failWith) return reply(this.failWith.status, this.failWith.body);
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded' || form['grant_type'] !== 'refresh_token') return reply(400, { error: 'unsupported_grant_type' });
    if (!this.#clientAuthenticated(req, form)) return reply(401, { error: 'invalid_client' });
    if (form['refresh_token'] !== this.validRefreshToken) return reply(400, { error: 'invalid_grant', error_description: `refresh token ${form['refresh_token']} is not valid` });
    const n = ++this.#issued;
    const accessToken = `access-${n}`;
    this.validAccessTokens.add(accessToken);
    const payload: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer' };
    const expiresIn = this.#options.expiresInSeconds === undefined ? 3600 : this.#options.expiresInSeconds;
    if (expiresIn !== null) payload['expires_in'] = expiresIn;
    if (this.#options.rotateRefreshTokens ?? true) {
      this.validRefreshToken = `refresh-${n}`;
      payload['refresh_token'] = this.validRefreshToken;
    }
    return reply(200, payload);
  }

  #clientAuthenticated(req: IncomingMessage, form: Record<string, string>): boolean {
    const { clientId, clientSecret = '', clientAuth } = this.#options;
    if (clientAuth === 'none') return form['client_id'] === clientId && form['client_secret'] === undefined && req.headers.authorization === undefined;
    if (clientAuth === 'client_secret_post') return form['client_id'] === clientId && form['client_secret'] === clientSecret && req.headers.authorization === undefined;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!basic || form['client_secret'] !== undefined) return false;
    const [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
    return id === clientId && secret === clientSecret;
  }

  #mcp(req: IncomingMessage, res: ServerResponse): void {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (req.method === 'DELETE') return void res.writeHead(204).end();
    this.mcpAuthorizations.push(token ?? '');
    if (!token || !this.validAccessTokens.has(token)) {
      // Echoes the token it refused, as careless servers do: whoever captures this must scrub it.
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' }).end(JSON.stringify({ error: 'invalid_token', presented: token ?? null }));
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'probe-session' })
      .end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'test', version: '1' } } }));
  }
}
