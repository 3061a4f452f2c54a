import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import { LeasePreconditionError, LonghaulError } from '../errors.ts';
import type { RunErrorType } from '../schemas/api-deployment.ts';
import { formatZodError } from './format-zod-error.ts';

/** The error types of the Anthropic error envelope that Longhaul sends, with their statuses. */
export const API_ERROR_STATUS = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  memory_precondition_failed_error: 409,
  memory_path_conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
} as const;
export type ApiErrorType = keyof typeof API_ERROR_STATUS;

/** An error only the HTTP layer has (the library's own errors are in `src/errors.ts`). */
export class HttpApiError extends Error {
  readonly errorType: ApiErrorType;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  /** Fields of the error object itself, beside `type` and `message` (e.g. `conflicting_path`). */
  readonly fields: Record<string, unknown> | undefined;

  constructor(
    errorType: ApiErrorType,
    message: string,
    { status = API_ERROR_STATUS[errorType], details, fields }: { status?: number; details?: Record<string, unknown>; fields?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = 'HttpApiError';
    this.errorType = errorType;
    this.status = status;
    this.details = details;
    this.fields = fields;
  }
}

/** Missing or wrong API key. */
export class AuthenticationError extends HttpApiError {
  constructor(message: string) {
    super('authentication_error', message);
    this.name = 'AuthenticationError';
  }
}

/** Bad input whose message was written by hand (zod failures are formatted elsewhere). */
export class BadRequestError extends HttpApiError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_request_error', message, details ? { details } : {});
    this.name = 'BadRequestError';
  }
}

/**
 * Something a new session needs is gone or archived (its agent, environment, a vault, a
 * file). `runError` is the deployment run error type it becomes when a deployment's
 * run meets it; the API answer is the same either way.
 */
export class PrerequisiteError extends HttpApiError {
  readonly runError: RunErrorType;

  constructor(errorType: 'invalid_request_error' | 'not_found_error', message: string, runError: RunErrorType) {
    super(errorType, message, { details: { error_code: runError.replace(/_error$/, '') } });
    this.name = 'PrerequisiteError';
    this.runError = runError;
  }
}

export type ErrorResponse = {
  status: number;
  errorType: ApiErrorType;
  message: string;
  details?: Record<string, unknown> | undefined;
  fields?: Record<string, unknown> | undefined;
  /** Sent as `x-should-retry`; the SDK retries 409 and 5xx unless told not to. */
  shouldRetry?: boolean | undefined;
};

/** Maps any thrown value to what the client is told. Unknown errors are 500s whose details stay in the log. */
export function errorResponseOf(error: unknown): ErrorResponse {
  if (error instanceof HttpApiError) {
    // A 409 of Longhaul's is the state of things: the same request fails the same way.
    return { status: error.status, errorType: error.errorType, message: error.message, details: error.details, fields: error.fields, ...(error.status === 409 ? { shouldRetry: false } : {}) };
  }
  if (error instanceof LeasePreconditionError) {
    return { status: 412, errorType: error.errorType, message: error.message, details: { error_code: 'heartbeat_precondition_failed', current_state: error.current } };
  }
  if (error instanceof LonghaulError) {
    const status = API_ERROR_STATUS[error.errorType];
    // Conflicts Longhaul reports are deterministic: the same request fails the same way.
    return {
      status,
      errorType: error.errorType,
      message: error.message,
      ...(error.errorCode !== undefined ? { details: { error_code: error.errorCode } } : {}),
      ...(error.errorType === 'conflict_error' ? { shouldRetry: false } : {}),
    };
  }
  if (error instanceof ZodError) return { status: 400, errorType: 'invalid_request_error', message: formatZodError(error, undefined) };
  if (error instanceof HTTPException) {
    const status = error.status;
    const errorType: ApiErrorType = status === 401 ? 'authentication_error' : status === 404 ? 'not_found_error' : status < 500 ? 'invalid_request_error' : 'api_error';
    return { status, errorType, message: error.message || 'request failed' };
  }
  return { status: 500, errorType: 'api_error', message: 'internal server error' };
}
