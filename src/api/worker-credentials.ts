import type { Context, MiddlewareHandler } from 'hono';
import type { SessionStore } from '../store/session-store.ts';
import { ENVIRONMENT_KEY_PREFIX, WORK_TOKEN_PREFIX } from '../store/work-queue.ts';
import type { OtherCredentials, Principal } from './api-key-auth.ts';
import { HttpApiError } from './api-errors.ts';
import type { ApiEnv } from './api-types.ts';

/**
 * The credentials of a self-hosted environment's workers, and the little they may do.
 *
 * - The environment key polls its environment's queue and acknowledges, heartbeats and stops
 *   its items; with it a worker may also act on the sessions of that environment.
 * - A work item's token (in the `secret` a poll hands out) heartbeats and stops that item and
 *   reads and answers that item's session: its events, its stream, its skills.
 *
 * Everything else (agents, vaults, other sessions, the items' retrieve and update) takes an
 * API key. The SDK's `work.worker()` uses exactly these calls.
 */
export function workerCredentials(store: SessionStore): OtherCredentials {
  return async (key) => {
    if (key.startsWith(ENVIRONMENT_KEY_PREFIX)) {
      const environmentId = await store.work.environmentOfKey(key);
      return environmentId === undefined ? undefined : { kind: 'environment', environmentId };
    }
    if (key.startsWith(WORK_TOKEN_PREFIX)) {
      const owner = await store.work.ownerOfToken(key);
      return owner === undefined ? undefined : { kind: 'work', ...owner };
    }
    return undefined;
  };
}

const WORK_PATH = /^\/v1\/environments\/([^/]+)\/work(?:\/|$)/;
const SESSION_PATH = /^\/v1\/sessions\/([^/]+)(?:\/events(?:\/stream)?)?$/;
const SKILL_DOWNLOAD_PATH = /^\/v1\/skills\/[^/]+(?:\/versions\/[^/]+(?:\/content)?)?$/;

/**
 * Keeps worker credentials to their routes: the work routes (which check the item and the
 * operation themselves, see `requireCaller`), their session's reads and event sends, and
 * skill downloads. An API key passes untouched.
 */
export function workerScope(store: SessionStore): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (principal.kind === 'api_key') return next();
    const path = c.req.path;
    if (WORK_PATH.test(path)) return next();
    const session = SESSION_PATH.exec(path)?.[1];
    const sessionMethod = c.req.method === 'GET' || (c.req.method === 'POST' && path.endsWith('/events'));
    if (session !== undefined && sessionMethod && (await mayActOnSession(store, principal, session))) return next();
    if (c.req.method === 'GET' && SKILL_DOWNLOAD_PATH.test(path)) return next();
    throw forbidden(principal, `${c.req.method} ${path}`);
  };
}

async function mayActOnSession(store: SessionStore, principal: Exclude<Principal, { kind: 'api_key' }>, sessionId: string): Promise<boolean> {
  if (principal.kind === 'work') return principal.sessionId === sessionId;
  const record = await store.sessions.retrieve(sessionId).catch(() => undefined);
  return record?.environment_id === principal.environmentId;
}

type Caller = 'api_key' | 'environment' | 'work';

/**
 * The check of a work route: the caller is one of `allowed`, and a worker credential is for
 * this environment (and, a work token, for this item). The messages say which credential
 * the operation takes, as the SDK documents it.
 */
export function requireCaller(c: Context<ApiEnv>, allowed: readonly Caller[], environmentId: string, workId?: string): Principal {
  const principal = c.get('principal');
  const operation = `${c.req.method} ${c.req.path}`;
  if (!allowed.includes(principal.kind)) throw forbidden(principal, operation, allowed);
  if (principal.kind !== 'api_key' && principal.environmentId !== environmentId) throw forbidden(principal, operation);
  if (principal.kind === 'work' && principal.workId !== workId) throw forbidden(principal, operation);
  return principal;
}

const CREDENTIAL_NAMES: Record<Caller, string> = { api_key: 'an API key', environment: "the environment's key", work: "the work item's token (from its secret)" };

function forbidden(principal: Principal, operation: string, allowed?: readonly Caller[]): HttpApiError {
  const held = CREDENTIAL_NAMES[principal.kind];
  const takes = allowed ? `; it takes ${allowed.map((kind) => CREDENTIAL_NAMES[kind]).join(' or ')}` : '';
  return new HttpApiError('permission_error', `${operation} is not allowed with ${held}${takes}`);
}
