import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AuthenticationError } from './api-errors.ts';
import type { ApiEnv } from './api-types.ts';

/** A key's public name: a prefix of its digest, so versions say which key acted without holding it. */
export const apiKeyIdOf = (digest: Buffer) => `apikey_${digest.toString('hex').slice(0, 24)}`;

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Who a request acts as: an API key's holder, or a self-hosted environment's worker with the
 * environment's key or a work item's own token (each allowed only its own few routes; see
 * `worker-credentials.ts`).
 */
export type Principal =
  | { kind: 'api_key' }
  | { kind: 'environment'; environmentId: string }
  | { kind: 'work'; environmentId: string; workId: string; sessionId: string };

/** Resolves a credential that is not an API key; undefined when it is not one either. */
export type OtherCredentials = (key: string) => Promise<Exclude<Principal, { kind: 'api_key' }> | undefined>;

/**
 * Accepts `Authorization: Bearer <key>` (what the SDK sends) or `x-api-key`.
 * Keys are kept only as sha256 digests and compared in constant time, so
 * neither memory dumps nor response timing reveal them.
 */
export function apiKeyAuth({ apiKeys, otherCredentials }: { apiKeys: Iterable<string>; otherCredentials?: OtherCredentials | undefined }): MiddlewareHandler<ApiEnv> {
  const digests = [...apiKeys].map(sha256);
  if (digests.length === 0) throw new Error('apiKeyAuth needs at least one API key');
  return async (c, next) => {
    const bearer = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim();
    const key = bearer ?? c.req.header('x-api-key')?.trim();
    if (!key) throw new AuthenticationError('missing API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`');
    const digest = sha256(key);
    // Compare against every key, so the time taken does not say which one matched.
    let match = false;
    for (const known of digests) match = timingSafeEqual(known, digest) || match;
    if (match) {
      c.set('apiKeyId', apiKeyIdOf(digest));
      c.set('principal', { kind: 'api_key' });
    } else {
      const other = await otherCredentials?.(key);
      if (!other) throw new AuthenticationError('invalid API key');
      c.set('principal', other);
    }
    await next();
  };
}
