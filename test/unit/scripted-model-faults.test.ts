import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  BadRequestError,
  InternalServerError,
  OverloadedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import type { MessageCreateParamsNonStreaming } from '@anthropic-ai/sdk/resources/messages';
import { reply, ScriptedModelServer, UnscriptedCallError, type ScriptedTurn } from '../../src/testing/index.ts';

const clientFor = (model: ScriptedModelServer, options: ConstructorParameters<typeof Anthropic>[0] = {}) =>
  new Anthropic({ baseURL: model.url, apiKey: 'test-key', maxRetries: 0, ...options });

const params: MessageCreateParamsNonStreaming = {
  model: 'claude-test-model',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'Hello' }],
};

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let events = 0;
  for await (const _event of stream) events++;
  return events;
}

async function callWith(turn: ScriptedTurn): Promise<unknown> {
  await using model = await ScriptedModelServer.start({ script: [turn] });
  // Awaited so the server outlives the call (`await using` disposes at return).
  return await clientFor(model).messages.create(params).then(
    () => assert.fail('expected the call to fail'),
    (error: unknown) => error,
  );
}

describe('scripted faults reach the SDK as the API would send them', () => {
  test('rate_limited: 429 rate_limit_error with retry-after', async () => {
    const error = await callWith({ fault: 'rate_limited', retryAfterSeconds: 7 });
    assert.ok(error instanceof RateLimitError);
    assert.equal(error.status, 429);
    assert.equal(error.type, 'rate_limit_error');
    assert.equal(error.headers.get('retry-after'), '7');
    assert.equal(error.headers.get('x-should-retry'), 'true');
    assert.match(error.requestID ?? '', /^req_/);
  });

  test('overloaded: 529 overloaded_error', async () => {
    const error = await callWith({ fault: 'overloaded' });
    assert.ok(error instanceof OverloadedError && error instanceof InternalServerError);
    assert.equal(error.status, 529);
    assert.equal(error.type, 'overloaded_error');
  });

  test('server_error: 500 api_error', async () => {
    const error = await callWith({ fault: 'server_error', message: 'boom' });
    assert.ok(error instanceof InternalServerError);
    assert.equal(error.status, 500);
    assert.equal(error.type, 'api_error');
    assert.equal(error.apiMessage, 'boom');
  });

  test('bad_request: 400 invalid_request_error, not retryable', async () => {
    const error = await callWith({ fault: 'bad_request', message: 'prompt is too long' });
    assert.ok(error instanceof BadRequestError);
    assert.equal(error.type, 'invalid_request_error');
    assert.equal(error.apiMessage, 'prompt is too long');
    assert.equal(error.headers.get('x-should-retry'), 'false');
  });

  test('with maxRetries: 1, a 429 then a reply succeeds', async () => {
    await using model = await ScriptedModelServer.start({ script: [{ fault: 'rate_limited', retryAfterSeconds: 0.05 }, reply('second time lucky')] });
    const message = await clientFor(model, { maxRetries: 1 }).messages.create(params);
    assert.deepEqual(message.content, [{ type: 'text', text: 'second time lucky', citations: null }]);
    assert.equal(model.callCount, 2);
    assert.deepEqual(
      model.calls.map((call) => call.answer.kind),
      ['fault', 'reply'],
    );
  });

  test('hang: the SDK times out and close() still finishes promptly', async () => {
    const model = await ScriptedModelServer.start({ script: [{ fault: 'hang' }] });
    await assert.rejects(clientFor(model, { timeout: 300 }).messages.create(params), APIConnectionTimeoutError);
    // A second hung request still open when close() is called.
    const open = clientFor(model, { timeout: 60_000 }).messages.create(params).catch((error: unknown) => error);
    await model.waitForCalls(2);
    const started = performance.now();
    await model.close();
    assert.ok(performance.now() - started < 1000, 'close() does not wait for hung connections');
    assert.ok((await open) instanceof APIConnectionError);
  });

  test('disconnect_mid_stream: the stream breaks after some events', async () => {
    await using model = await ScriptedModelServer.start({ script: [{ fault: 'disconnect_mid_stream', afterEvents: 2 }, { fault: 'disconnect_mid_stream' }] });
    const client = clientFor(model);
    const seen: string[] = [];
    const stream = await client.messages.create({ ...params, stream: true });
    await assert.rejects(async () => {
      for await (const event of stream) seen.push(event.type);
    });
    assert.deepEqual(seen, ['message_start', 'content_block_start']);
    await assert.rejects(client.messages.create(params), APIConnectionError);
  });

  test('error_mid_stream: an SSE error event after some events', async () => {
    await using model = await ScriptedModelServer.start({ script: [{ fault: 'error_mid_stream' }, { fault: 'error_mid_stream', errorType: 'api_error' }] });
    const client = clientFor(model);
    const error = await client.messages.stream(params).finalMessage().catch((caught: unknown) => caught);
    assert.ok(error instanceof APIError);
    assert.equal(error.type, 'overloaded_error');
    await assert.rejects(client.messages.create(params), InternalServerError);
  });

  test('reportedUsage: what each call told its client, from message_start and any message_delta sent', async () => {
    await using model = await ScriptedModelServer.start({
      script: [
        { ...reply('Hi there'), usage: { input_tokens: 50, output_tokens: 7, cache_read_input_tokens: 9 } },
        { fault: 'disconnect_mid_stream', afterEvents: 1 },
        { fault: 'error_mid_stream', afterEvents: 100 },
        { fault: 'overloaded' },
      ],
    });
    const client = clientFor(model);
    await client.messages.stream(params).finalMessage();
    await client.messages.stream(params).finalMessage().catch(() => {});
    await client.messages.stream(params).finalMessage().catch(() => {});
    await client.messages.create(params).catch(() => {});
    const [whole, cut, errored, refused] = model.calls;
    assert.deepEqual(whole?.reportedUsage, { input_tokens: 50, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 9 });
    assert.equal(cut?.reportedUsage?.output_tokens, 1, 'message_start reports provisional output');
    assert.ok(cut.reportedUsage.input_tokens > 0);
    assert.ok((errored?.reportedUsage?.output_tokens ?? 0) > 1, 'the message_delta before the error reported the output');
    assert.equal(refused?.reportedUsage, undefined, 'an error answer reports no usage');
  });

  test('stall_mid_stream: events stop but the connection stays open until close()', async () => {
    const model = await ScriptedModelServer.start({ script: [{ fault: 'stall_mid_stream', afterEvents: 3 }] });
    const stream = await clientFor(model).messages.create({ ...params, stream: true });
    const events = stream[Symbol.asyncIterator]();
    const seen: string[] = [];
    for (let index = 0; index < 3; index++) {
      const next = await events.next();
      if (!next.done) seen.push(next.value.type);
    }
    assert.deepEqual(seen, ['message_start', 'content_block_start', 'content_block_delta']);
    const fourth = events.next().then(
      () => 'event',
      () => 'error',
    );
    const quiet = await Promise.race([fourth, new Promise((resolve) => setTimeout(() => resolve('silence'), 100))]);
    assert.equal(quiet, 'silence');
    await model.close();
    assert.equal(await fourth, 'error');
  });

  test('eventDelayMs spreads a stream out in time', async () => {
    await using model = await ScriptedModelServer.start({ script: [{ ...reply('a b c'), eventDelayMs: 20 }] });
    const started = performance.now();
    await clientFor(model).messages.stream(params).finalMessage();
    // message_start + 3 deltas + block start/stop + message_delta + message_stop, 20 ms apart.
    assert.ok(performance.now() - started >= 100);
  });
});

describe('unscripted calls are loud', () => {
  test('an exhausted list answers 500, is not retried, and fails assertNoUnscriptedCalls', async () => {
    await using model = await ScriptedModelServer.start({ script: [reply('only one')] });
    const client = clientFor(model, { maxRetries: 2 });
    await client.messages.create(params);
    model.assertNoUnscriptedCalls();

    const error = await client.messages.create(params).catch((caught: unknown) => caught);
    assert.ok(error instanceof InternalServerError);
    assert.equal(error.type, 'api_error');
    assert.match(error.apiMessage ?? '', /^scripted model: no turn scripted for call #2 \(callIndex 1\): all 1 scripted turn\(s\) are used up$/);
    assert.equal(model.callCount, 2, 'the SDK does not retry an unscripted call');
    assert.throws(
      () => model.assertNoUnscriptedCalls(),
      (thrown: unknown) => thrown instanceof UnscriptedCallError && thrown.calls.length === 1 && /call #2 .*last message: user "Hello"/.test(thrown.message),
    );
  });

  test('a function script that throws, returns undefined or returns garbage is unscripted', async () => {
    const answers: Array<() => unknown> = [
      () => {
        throw new Error('no idea');
      },
      () => undefined,
      () => ({ content: 'not a list' }),
    ];
    await using model = await ScriptedModelServer.start({ script: (_request, { callIndex }) => answers[callIndex]?.() as ScriptedTurn });
    const client = clientFor(model);
    for (let index = 0; index < answers.length; index++) await assert.rejects(client.messages.create(params), InternalServerError);
    assert.deepEqual(
      model.calls.map((call) => (call.answer.kind === 'unscripted' ? call.answer.reason : call.answer.kind)),
      [
        'the script function threw: no idea',
        'the script function returned undefined',
        'the script function returned an invalid reply: content: Invalid input: expected array, received string',
      ],
    );
    assert.throws(() => model.assertNoUnscriptedCalls(), /3 unscripted call\(s\)/);
  });
});

describe('request validation', () => {
  test('missing required fields: 400 invalid_request_error naming the field', async () => {
    await using model = await ScriptedModelServer.start({ script: [reply('never')] });
    const client = clientFor(model);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...params, max_tokens: undefined }, /^max_tokens: Field required$/],
      [{ ...params, model: undefined }, /^model: Field required$/],
      [{ ...params, messages: undefined }, /^messages: Field required$/],
      [{ ...params, messages: [] }, /^messages: at least one message is required$/],
    ];
    for (const [body, message] of cases) {
      const error = await client.messages.create(body as unknown as MessageCreateParamsNonStreaming).catch((caught: unknown) => caught);
      assert.ok(error instanceof BadRequestError);
      assert.equal(error.type, 'invalid_request_error');
      assert.match(error.apiMessage ?? '', message);
    }
    assert.equal(model.callCount, 0);
    assert.equal(model.remainingTurns, 1);
  });

  test('malformed JSON and unknown paths get the error envelope', async () => {
    await using model = await ScriptedModelServer.start();
    const malformed = await fetch(`${model.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    assert.equal(malformed.status, 400);
    const body = (await malformed.json()) as { type: string; error: { type: string; message: string }; request_id: string };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /issue with the request body/);
    assert.equal(body.request_id, malformed.headers.get('request-id'));

    const missing = await fetch(`${model.url}/v1/complete`, { method: 'POST', body: '{}' });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { type: string } }).error.type, 'not_found_error');
    assert.deepEqual(
      model.requests.map((request) => request.answer.kind === 'rejected' && request.answer.status),
      [400, 404],
    );
  });
});
