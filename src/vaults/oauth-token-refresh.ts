import { rootContextFetch } from '../net/root-context-fetch.ts';
import type { CapturedHttpResponse, McpOAuthRefresh } from '../schemas/api-vault.ts';
import { captureResponse } from './captured-response.ts';

export type TokenRefreshOutcome =
  | { status: 'succeeded'; accessToken: string; refreshToken: string | undefined; expiresInSeconds: number | undefined }
  /** The endpoint answered with an error (or a 2xx without an access token). `errorCode` is OAuth's `error`. */
  | { status: 'failed'; httpResponse: CapturedHttpResponse; errorCode: string | undefined }
  /** The endpoint could not be reached, or did not answer in time. */
  | { status: 'connect_error'; reason: string };

export type RefreshAccessTokenOptions = {
  refresh: McpOAuthRefresh;
  refreshToken: string;
  clientSecret: string | null;
  fetch?: typeof fetch;
  /** Default 15 s. */
  timeoutMs?: number;
};

/**
 * One refresh-token grant (RFC 6749 §6) against `refresh.token_endpoint`, the client
 * authenticating as `token_endpoint_auth` says: HTTP Basic with the form-encoded id and
 * secret (§2.3.1), both in the body, or only `client_id` for a public client (§3.2.1).
 * `resource` (RFC 8707) and `scope` are sent when set. Never throws for what the
 * endpoint does; the outcome says.
 */
export async function refreshAccessToken({ refresh, refreshToken, clientSecret, fetch: fetchFn = rootContextFetch, timeoutMs = 15_000 }: RefreshAccessTokenOptions): Promise<TokenRefreshOutcome> {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const authType = refresh.token_endpoint_auth.type;
  if (authType === 'client_secret_basic') {
    const id = encodeURIComponent(refresh.client_id);
    const secret = encodeURIComponent(clientSecret ?? '');
    headers['authorization'] = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  } else {
    form.set('client_id', refresh.client_id);
    if (authType === 'client_secret_post') form.set('client_secret', clientSecret ?? '');
  }
  if (refresh.scope) form.set('scope', refresh.scope);
  if (refresh.resource) form.set('resource', refresh.resource);

  const secrets = [refreshToken, ...(clientSecret ? [clientSecret] : [])];
  let response: Response;
  try {
    response = await fetchFn(refresh.token_endpoint, { method: 'POST', headers, body: form.toString(), redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    return { status: 'connect_error', reason: describeFetchError(error) };
  }
  if (!response.ok) {
    const httpResponse = await captureResponse(response, { secrets });
    return { status: 'failed', httpResponse, errorCode: oauthErrorCode(httpResponse.body) };
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    return { status: 'connect_error', reason: describeFetchError(error) };
  }
  const body = parseJson(text);
  const accessToken = body?.['access_token'];
  if (typeof accessToken !== 'string' || accessToken === '') {
    const rebuilt = new Response(text, { status: response.status, headers: response.headers });
    return { status: 'failed', httpResponse: await captureResponse(rebuilt, { secrets }), errorCode: 'no_access_token' };
  }
  const newRefresh = body?.['refresh_token'];
  const expiresIn = Number(body?.['expires_in']);
  return {
    status: 'succeeded',
    accessToken,
    refreshToken: typeof newRefresh === 'string' && newRefresh !== '' ? newRefresh : undefined,
    expiresInSeconds: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : undefined,
  };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** OAuth's `error` code from an error body, when it is one (a short token, safe to show). */
function oauthErrorCode(body: string): string | undefined {
  const code = parseJson(body)?.['error'];
  return typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? code : undefined;
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timed out';
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return error instanceof Error ? error.message : String(error);
}
