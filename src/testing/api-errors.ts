/**
 * Errors as the Anthropic API returns them: the status for each error type, the
 * `{"type":"error","error":{…},"request_id":…}` envelope, and the retry hints the
 * official SDKs obey. The server renders every error through `writeApiError`.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorType } from '@anthropic-ai/sdk/resources/shared';
import type { ScriptedFault } from './script.ts';

/** The API's error types; `request_too_large` is sent by the API but missing from the SDK's union. */
export type ApiErrorType = ErrorType | 'request_too_large';

const STATUS_BY_TYPE: Readonly<Record<ApiErrorType, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  memory_precondition_failed_error: 412,
  memory_path_conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** An error answer. Thrown by request handling; rendered once by `writeApiError`. */
export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  readonly status: number;
  readonly type: ApiErrorType;
  /** Extra response headers, e.g. `retry-after`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as `x-should-retry`, which the SDK obeys before looking at the status. */
  readonly retryable: boolean;

  constructor(
    type: ApiErrorType,
    message: string,
    { headers = {}, retryable }: { headers?: Record<string, string>; retryable?: boolean } = {},
  ) {
    super(message);
    this.type = type;
    this.status = STATUS_BY_TYPE[type];
    this.headers = headers;
    // The API's own hint: rate limits and server-side failures are worth retrying.
    this.retryable = retryable ?? (this.status === 429 || this.status >= 500);
  }
}

/** The `data` of an SSE `event: error`, which is the same envelope as an HTTP error body. */
export function errorEnvelope(error: ApiRequestError, requestId: string): object {
  return { type: 'error', error: { type: error.type, message: error.message }, request_id: requestId };
}

/** Writes `error` as the API would: status, envelope, `request-id` and `x-should-retry`. */
export function writeApiError(response: ServerResponse, error: ApiRequestError, requestId: string): void {
  response.writeHead(error.status, {
    'content-type': 'application/json',
    'request-id': requestId,
    'x-should-retry': String(error.retryable),
    ...error.headers,
  });
  response.end(JSON.stringify(errorEnvelope(error, requestId)));
}

type ErrorFault = Extract<ScriptedFault, { fault: 'rate_limited' | 'overloaded' | 'server_error' | 'bad_request' | 'error_mid_stream' }>;

/** The API error a fault stands for. */
export function faultError(fault: ErrorFault): ApiRequestError {
  switch (fault.fault) {
    case 'rate_limited': {
      const retryAfterSeconds = fault.retryAfterSeconds ?? 1;
      return new ApiRequestError('rate_limit_error', fault.message ?? 'Number of request tokens has exceeded your per-minute rate limit (scripted).', {
        headers: { 'retry-after': String(retryAfterSeconds) },
      });
    }
    case 'overloaded':
      return new ApiRequestError('overloaded_error', fault.message ?? 'Overloaded (scripted).');
    case 'server_error':
      return new ApiRequestError('api_error', fault.message ?? 'Internal server error (scripted).');
    case 'bad_request':
      return new ApiRequestError('invalid_request_error', fault.message ?? 'Bad request (scripted).');
    case 'error_mid_stream': {
      const type = fault.errorType ?? 'overloaded_error';
      return new ApiRequestError(type, fault.message ?? `${type} mid-stream (scripted).`);
    }
  }
}
