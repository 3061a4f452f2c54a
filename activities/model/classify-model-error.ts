import { APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import type { SessionErrorObject } from '../../src/schemas/events.ts';

export type ModelErrorClass = {
  /** The `session.error` type to report. */
  errorType: SessionErrorObject['type'];
  retryable: boolean;
  /** The server's requested delay before retrying, when it gave one. */
  retryAfterMs: number | undefined;
  message: string;
  /**
   * What the endpoint called the error (`overloaded_error`, `rate_limit_error`, `api_error`, …);
   * for an answer without one its HTTP status (`502`), for no answer the SDK error's class
   * (`APIConnectionError`). Metrics report it as `error.type`: a small, fixed set of values.
   */
  apiErrorType: string;
};

/**
 * The one place that decides what a failed model request means: which
 * `session.error` it is and whether (and when) Temporal should retry it. The
 * Anthropic client runs with `maxRetries: 0`, so this is the only retry policy.
 */
export function classifyModelError(err: unknown): ModelErrorClass {
  return { ...classifyByKind(err), apiErrorType: apiErrorTypeOf(err) };
}

function classifyByKind(err: unknown): Omit<ModelErrorClass, 'apiErrorType'> {
  if (err instanceof APIConnectionTimeoutError || err instanceof APIConnectionError) {
    return { errorType: 'model_request_failed_error', retryable: true, retryAfterMs: undefined, message: `model request failed: ${err.message}` };
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const status = err.status;
    const headers = err.headers;
    const retryAfterMs = parseRetryAfter(headers);
    const shouldRetry = headers?.get('x-should-retry');
    const byStatus = classifyStatus(status);
    const retryable = shouldRetry === 'true' ? true : shouldRetry === 'false' ? false : byStatus.retryable;
    return { errorType: byStatus.errorType, retryable, retryAfterMs, message: `model request failed with ${status}: ${apiMessage(err)}` };
  }
  if (err instanceof APIError) {
    // An error event inside an otherwise successful stream (e.g. overloaded mid-stream).
    const type = (err.error as { error?: { type?: string } } | undefined)?.error?.type;
    const errorType = type === 'overloaded_error' ? 'model_overloaded_error' : type === 'rate_limit_error' ? 'model_rate_limited_error' : 'model_request_failed_error';
    return { errorType, retryable: true, retryAfterMs: undefined, message: `model stream failed: ${apiMessage(err)}` };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { errorType: 'unknown_error', retryable: true, retryAfterMs: undefined, message: `model request failed: ${message}` };
}

function apiErrorTypeOf(err: unknown): string {
  if (err instanceof APIError) {
    const type = err.type ?? (err.error as { error?: { type?: unknown } } | undefined)?.error?.type;
    if (typeof type === 'string' && type) return type;
    if (typeof err.status === 'number') return String(err.status);
  }
  return err instanceof Error ? err.name : 'unknown';
}

function classifyStatus(status: number): { errorType: SessionErrorObject['type']; retryable: boolean } {
  if (status === 429) return { errorType: 'model_rate_limited_error', retryable: true };
  if (status === 529) return { errorType: 'model_overloaded_error', retryable: true };
  if (status === 402) return { errorType: 'billing_error', retryable: false };
  if (status === 408 || status === 409 || status >= 500) return { errorType: 'model_request_failed_error', retryable: true };
  return { errorType: 'model_request_failed_error', retryable: false };
}

/**
 * Whether the endpoint refused a request for being larger than the model's context
 * window: Anthropic's 400 `prompt is too long: N tokens > M maximum`, or a 413 for a
 * body past its size limit. Compaction can answer it where a retry cannot.
 */
export function isPromptTooLong(err: unknown): boolean {
  if (!(err instanceof APIError)) return false;
  if (err.status === 413) return true;
  return err.status === 400 && /prompt is too long/i.test(apiMessage(err));
}

/** `retry-after-ms`, then `retry-after` (seconds or an HTTP date), as the SDK reads them. */
export function parseRetryAfter(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function apiMessage(err: APIError): string {
  const inner = (err.error as { error?: { message?: string } } | undefined)?.error?.message;
  return inner ?? err.message;
}
