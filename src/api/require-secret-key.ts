import type { MiddlewareHandler } from 'hono';
import { HttpApiError } from './api-errors.ts';
import type { ApiEnv } from './api-types.ts';

/** The 503 of a feature that needs the server's secret key (vaults, webhooks), saying how to set one. */
export function secretKeyMissing(message: string): HttpApiError {
  return new HttpApiError('api_error', message, { status: 503 });
}

/** Answers every request with `secretKeyMissing(message)` when `available` is false, before anything is read. */
export function requireSecretKey(available: boolean, message: string): MiddlewareHandler<ApiEnv> {
  return async (_c, next) => {
    if (!available) throw secretKeyMissing(message);
    await next();
  };
}
