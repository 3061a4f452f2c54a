import { LonghaulError } from '../errors.ts';

/**
 * The request conflicts with the resource's current state (a stale `version`,
 * deleting a running session). Retrying the same request cannot succeed, so
 * the API tells clients not to (`x-should-retry: false`).
 */
export class ConflictError extends LonghaulError {
  override readonly name = 'ConflictError';
  override readonly errorType = 'conflict_error';
}
