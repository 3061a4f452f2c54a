/**
 * An OAuth 2.0 token endpoint (RFC 6749 §6, refresh_token grant only) for the MCP
 * test server: it checks the client the way the configured method says, issues an
 * access token the MCP endpoint then accepts, and may rotate the refresh token.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export type OAuthClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

export type McpTestOAuthOptions = {
  clientId: string;
  /** Required unless `clientAuth` is `none`. */
  clientSecret?: string | undefined;
  /** How the client must authenticate. Default `client_secret_post` when a secret is set, else `none`. */
  clientAuth?: OAuthClientAuthMethod | undefined;
  /** Refresh tokens accepted at the start. */
  refreshTokens?: readonly string[] | undefined;
  /** Issue a new refresh token with each access token and invalidate the one used. Default false. */
  rotateRefreshTokens?: boolean | undefined;
  /** `expires_in` of issued access tokens, in seconds. Default 3600. */
  expiresInSec?: number | undefined;
};

/** A token request as the endpoint understood it (secrets left out). */
export type RecordedTokenRequest = {
  grantType: string | undefined;
  clientId: string | undefined;
  /** How the client authenticated, as observed: Basic header, secret in the body, or neither. */
  clientAuth: OAuthClientAuthMethod;
  resource: string | undefined;
  scope: string | undefined;
  /** HTTP status answered. */
  status: number;
  /** The OAuth `error` code answered, if any. */
  error: string | undefined;
};

type TokenAnswer = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };

export class OAuthTokenEndpoint {
  readonly requests: RecordedTokenRequest[] = [];
  /** Access tokens issued so far (each successful refresh adds one). */
  refreshCount = 0;
  readonly #clientId: string;
  readonly #clientSecret: string | undefined;
  readonly #clientAuth: OAuthClientAuthMethod;
  readonly #rotate: boolean;
  readonly #expiresInSec: number;
  readonly #refreshTokens: Set<string>;
  readonly #onAccessToken: (token: string) => void;

  constructor(options: McpTestOAuthOptions, onAccessToken: (token: string) => void) {
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#clientAuth = options.clientAuth ?? (options.clientSecret === undefined ? 'none' : 'client_secret_post');
    if (this.#clientAuth !== 'none' && this.#clientSecret === undefined) throw new Error(`OAuth test endpoint: ${this.#clientAuth} needs a clientSecret`);
    this.#rotate = options.rotateRefreshTokens ?? false;
    this.#expiresInSec = options.expiresInSec ?? 3600;
    this.#refreshTokens = new Set(options.refreshTokens ?? []);
    this.#onAccessToken = onAccessToken;
  }

  acceptRefreshTokens(tokens: readonly string[]): void {
    for (const token of tokens) this.#refreshTokens.add(token);
  }

  revokeRefreshToken(token: string): void {
    this.#refreshTokens.delete(token);
  }

  /** Refresh tokens currently valid (the rotated ones included). */
  get refreshTokens(): readonly string[] {
    return [...this.#refreshTokens];
  }

  handle({ contentType, authorization, body }: { contentType: string | undefined; authorization: string | undefined; body: string }, response: ServerResponse): void {
    const params = new URLSearchParams(contentType?.startsWith('application/x-www-form-urlencoded') ? body : '');
    const basic = parseBasic(authorization);
    const record: RecordedTokenRequest = {
      grantType: params.get('grant_type') ?? undefined,
      clientId: basic?.clientId ?? params.get('client_id') ?? undefined,
      clientAuth: basic ? 'client_secret_basic' : params.has('client_secret') ? 'client_secret_post' : 'none',
      resource: params.get('resource') ?? undefined,
      scope: params.get('scope') ?? undefined,
      status: 0,
      error: undefined,
    };
    const answer = this.#answer(params, basic, record);
    record.status = answer.status;
    record.error = typeof answer.body.error === 'string' ? answer.body.error : undefined;
    this.requests.push(record);
    response.writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...answer.headers });
    response.end(JSON.stringify(answer.body));
  }

  #answer(params: URLSearchParams, basic: { clientId: string; secret: string } | undefined, record: RecordedTokenRequest): TokenAnswer {
    if (record.grantType === undefined) return oauthError(400, 'invalid_request', 'grant_type is required (application/x-www-form-urlencoded body)');
    if (record.grantType !== 'refresh_token') return oauthError(400, 'unsupported_grant_type', `grant_type ${record.grantType} is not supported`);
    if (!this.#clientAuthenticates(params, basic, record)) {
      const answer = oauthError(401, 'invalid_client', `client authentication failed (expected ${this.#clientAuth})`);
      return this.#clientAuth === 'client_secret_basic' ? { ...answer, headers: { 'www-authenticate': 'Basic realm="oauth"' } } : answer;
    }
    const refreshToken = params.get('refresh_token');
    if (refreshToken === null) return oauthError(400, 'invalid_request', 'refresh_token is required');
    if (!this.#refreshTokens.has(refreshToken)) return oauthError(400, 'invalid_grant', 'the refresh token is invalid, expired or revoked');

    const accessToken = `at-${randomBytes(12).toString('base64url')}`;
    this.#onAccessToken(accessToken);
    this.refreshCount++;
    const body: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer', expires_in: this.#expiresInSec };
    if (record.scope !== undefined) body.scope = record.scope;
    if (this.#rotate) {
      const next = `rt-${randomBytes(12).toString('base64url')}`;
      this.#refreshTokens.delete(refreshToken);
      this.#refreshTokens.add(next);
      body.refresh_token = next;
    }
    return { status: 200, body };
  }

  #clientAuthenticates(params: URLSearchParams, basic: { clientId: string; secret: string } | undefined, record: RecordedTokenRequest): boolean {
    if (record.clientAuth !== this.#clientAuth || record.clientId !== this.#clientId) return false;
    switch (this.#clientAuth) {
      case 'none':
        return true;
      case 'client_secret_basic':
        return basic?.secret === this.#clientSecret;
      case 'client_secret_post':
        return params.get('client_secret') === this.#clientSecret;
    }
  }
}

function oauthError(status: number, error: string, description: string): TokenAnswer {
  return { status, body: { error, error_description: description } };
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function parseBasic(authorization: string | undefined): { clientId: string; secret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const decode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
  try {
    return { clientId: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}
