import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AuthenticationError } from './api-errors.ts';
import type { ApiEnv } from './api-types.ts';

/** A key's public name: a prefix of its digest, so versions say which key acted without holding it. */
export const apiKeyIdOf = (digest: Buffer) => `apikey_${digest.toString('hex').slice(0, 24)}`;

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Accepts `Authorization: Bearer <key>` (what the SDK sends) or `x-api-key`.
 * Keys are kept only as sha256 digests and compared in constant time, so
 * neither memory dumps nor response timing reveal them.
 */
export function apiKeyAuth({ apiKeys }: { apiKeys: Iterable<string> }): MiddlewareHandler<ApiEnv> {
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
    if (!match) throw new AuthenticationError('invalid API key');
    c.set('apiKeyId', apiKeyIdOf(digest));
    await next();
  };
}
