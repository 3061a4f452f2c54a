import assert from 'node:assert/strict';
import { test } from 'node:test';
import { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import { classifyModelError, parseRetryAfter } from '../../activities/model/classify-model-error.ts';

const apiError = (status: number, headers: Record<string, string> = {}, type = 'error') =>
  APIError.generate(status, { type: 'error', error: { type, message: `boom ${status}` } }, undefined, new Headers(headers));

test('status table: what is retried and what each reports', () => {
  const table: [number, Record<string, string>, string, boolean][] = [
    [400, {}, 'model_request_failed_error', false],
    [401, {}, 'model_request_failed_error', false],
    [402, {}, 'billing_error', false],
    [403, {}, 'model_request_failed_error', false],
    [404, {}, 'model_request_failed_error', false],
    [408, {}, 'model_request_failed_error', true],
    [413, {}, 'model_request_failed_error', false],
    [429, {}, 'model_rate_limited_error', true],
    [500, {}, 'model_request_failed_error', true],
    [503, {}, 'model_request_failed_error', true],
    [529, {}, 'model_overloaded_error', true],
    [500, { 'x-should-retry': 'false' }, 'model_request_failed_error', false],
    [400, { 'x-should-retry': 'true' }, 'model_request_failed_error', true],
  ];
  for (const [status, headers, errorType, retryable] of table) {
    const result = classifyModelError(apiError(status, headers));
    assert.equal(result.errorType, errorType, `${status} ${JSON.stringify(headers)}`);
    assert.equal(result.retryable, retryable, `${status} ${JSON.stringify(headers)}`);
    assert.match(result.message, new RegExp(`${status}: boom ${status}`));
  }
});

test('retry-after is honoured in ms, seconds and HTTP-date form', () => {
  assert.equal(classifyModelError(apiError(429, { 'retry-after': '3' })).retryAfterMs, 3000);
  assert.equal(classifyModelError(apiError(429, { 'retry-after-ms': '250', 'retry-after': '3' })).retryAfterMs, 250);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now), 5000);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now), undefined);
  assert.equal(classifyModelError(apiError(500)).retryAfterMs, undefined);
});

test('connection failures and unknown errors are retried', () => {
  assert.deepEqual(
    { ...classifyModelError(new APIConnectionError({ message: 'socket hang up' })), message: '' },
    { errorType: 'model_request_failed_error', retryable: true, retryAfterMs: undefined, message: '', apiErrorType: 'APIConnectionError' },
  );
  assert.equal(classifyModelError(new Error('weird')).errorType, 'unknown_error');
  assert.equal(classifyModelError(new Error('weird')).retryable, true);
});

test('an error event inside a stream maps by its error type', () => {
  const streamError = new APIError(undefined, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, undefined, undefined);
  assert.equal(classifyModelError(streamError).errorType, 'model_overloaded_error');
  assert.equal(classifyModelError(streamError).retryable, true);
  assert.equal(classifyModelError(streamError).apiErrorType, 'overloaded_error');
});

test("the endpoint's own error type is kept for metrics; without one, the status, then the error's class", () => {
  assert.equal(classifyModelError(apiError(529, {}, 'overloaded_error')).apiErrorType, 'overloaded_error');
  assert.equal(classifyModelError(apiError(429, {}, 'rate_limit_error')).apiErrorType, 'rate_limit_error');
  assert.equal(classifyModelError(apiError(500, {}, 'api_error')).apiErrorType, 'api_error');
  assert.equal(classifyModelError(APIError.generate(502, undefined, 'Bad Gateway', new Headers())).apiErrorType, '502');
  assert.equal(classifyModelError(new TypeError('weird')).apiErrorType, 'TypeError');
});
