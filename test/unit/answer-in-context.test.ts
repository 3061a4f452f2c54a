import assert from 'node:assert/strict';
import { test } from 'node:test';
import { APIError } from '@anthropic-ai/sdk';
import { answerInContext, CompactionLimitReached, MAX_COMPACTIONS_IN_A_ROW } from '../../activities/model/answer-in-context.ts';
import { isPromptTooLong } from '../../activities/model/classify-model-error.ts';
import type { FittedContext } from '../../activities/model/fit-context.ts';
import type { ModelAnswer } from '../../activities/model/model-stream.ts';

const tooLong = () => APIError.generate(400, { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 250000 tokens > 200000 maximum' } }, undefined, new Headers());
const answer: ModelAnswer = { content: [{ type: 'text', text: 'ok', citations: null }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } as never };
const never = new AbortController().signal;

/** A fitting that shrinks the context to the budget it is given, down to `floorBytes`. */
function fitter(floorBytes = 0) {
  const calls: { budgetBytes: number; summarize: boolean }[] = [];
  const fit = async (options: { budgetBytes: number; summarize: boolean }): Promise<FittedContext> => {
    calls.push(options);
    return { items: [], bytes: Math.max(floorBytes, Math.min(options.budgetBytes, 1000)), summaries: options.summarize ? 1 : 0 };
  };
  return { fit, calls };
}

test('prompt too long: only a 400 that says so, or a 413', () => {
  assert.equal(isPromptTooLong(tooLong()), true);
  assert.equal(isPromptTooLong(APIError.generate(413, { type: 'error', error: { type: 'request_too_large', message: 'too large' } }, undefined, new Headers())), true);
  assert.equal(isPromptTooLong(APIError.generate(400, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: too big' } }, undefined, new Headers())), false);
  assert.equal(isPromptTooLong(new Error('prompt is too long')), false);
});

test('a refused request is compacted with half the budget and sent again', async () => {
  const { fit, calls } = fitter();
  let streams = 0;
  const result = await answerInContext({
    budgetBytes: 1000,
    serverCompaction: false,
    fit,
    stream: async () => {
      streams += 1;
      if (streams < 3) throw tooLong();
      return answer;
    },
    signal: never,
  });
  assert.equal(result, answer);
  assert.deepEqual(calls, [
    { budgetBytes: 1000, summarize: true },
    { budgetBytes: 500, summarize: true },
    { budgetBytes: 250, summarize: true },
  ]);
});

test('with server compaction Longhaul summarises only after a refusal', async () => {
  const { fit, calls } = fitter();
  let streams = 0;
  await answerInContext({ budgetBytes: 1000, serverCompaction: true, fit, stream: async () => (++streams === 1 ? Promise.reject(tooLong()) : answer), signal: never });
  assert.deepEqual(calls.map((c) => c.summarize), [false, true]);
});

test(`after ${MAX_COMPACTIONS_IN_A_ROW} compactions in a row without an answer the call gives up`, async () => {
  const { fit, calls } = fitter();
  await assert.rejects(
    answerInContext({ budgetBytes: 1000, serverCompaction: false, fit, stream: async () => Promise.reject(tooLong()), signal: never }),
    (err: unknown) => err instanceof CompactionLimitReached && /compacted 3 times in a row/.test(err.message),
  );
  assert.equal(calls.length, MAX_COMPACTIONS_IN_A_ROW + 1);
});

test('a refused context that compaction cannot shrink gives up at once', async () => {
  const { fit, calls } = fitter(1000);
  await assert.rejects(
    answerInContext({ budgetBytes: 1000, serverCompaction: false, fit, stream: async () => Promise.reject(tooLong()), signal: never }),
    (err: unknown) => err instanceof CompactionLimitReached && /cannot be compacted below 1000 bytes/.test(err.message),
  );
  assert.equal(calls.length, 2);
});

test('other errors, and any error once stopped, pass through untouched', async () => {
  const { fit } = fitter();
  const overloaded = APIError.generate(529, { type: 'error', error: { type: 'overloaded_error', message: 'busy' } }, undefined, new Headers());
  await assert.rejects(answerInContext({ budgetBytes: 1000, serverCompaction: false, fit, stream: async () => Promise.reject(overloaded), signal: never }), (err) => err === overloaded);
  const stopped = new AbortController();
  stopped.abort();
  const refused = tooLong();
  await assert.rejects(answerInContext({ budgetBytes: 1000, serverCompaction: false, fit, stream: async () => Promise.reject(refused), signal: stopped.signal }), (err) => err === refused);
});
