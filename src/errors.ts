/**
 * Typed errors of the library. Each carries the API error type it maps to; the
 * HTTP layer renders them in one place.
 */
export class LonghaulError extends Error {
  readonly errorType: 'invalid_request_error' | 'not_found_error' | 'conflict_error' | 'api_error' = 'api_error';
  /** The API's `error.details.error_code`: which rule refused the request, for code to branch on. */
  readonly errorCode: string | undefined;

  constructor(message: string, options: { errorCode?: string } = {}) {
    super(message);
    this.errorCode = options.errorCode;
  }
}

export class NotFoundError extends LonghaulError {
  override readonly name = 'NotFoundError';
  override readonly errorType = 'not_found_error';
}

export class InvalidRequestError extends LonghaulError {
  override readonly name = 'InvalidRequestError';
  override readonly errorType = 'invalid_request_error';
}

/**
 * A work item's heartbeat named a lease that is not the one stored: another worker may hold
 * the item now (412 `heartbeat_precondition_failed`, with the lease as the server holds it).
 */
export class LeasePreconditionError extends LonghaulError {
  override readonly name = 'LeasePreconditionError';
  override readonly errorType = 'invalid_request_error';
  readonly current: { last_heartbeat: string | null; lease_extended: false; state: string; ttl_seconds: number };
  constructor(message: string, current: LeasePreconditionError['current']) {
    super(message);
    this.current = current;
  }
}
