/**
 * Typed errors of the library. Each carries the API error type it maps to; the
 * HTTP layer renders them in one place.
 */
export class LonghaulError extends Error {
  readonly errorType: 'invalid_request_error' | 'not_found_error' | 'conflict_error' | 'api_error' = 'api_error';
}

export class NotFoundError extends LonghaulError {
  override readonly name = 'NotFoundError';
  override readonly errorType = 'not_found_error';
}

export class InvalidRequestError extends LonghaulError {
  override readonly name = 'InvalidRequestError';
  override readonly errorType = 'invalid_request_error';
}
