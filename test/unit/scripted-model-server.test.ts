import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { ContentBlock, MessageCreateParamsNonStreaming, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import {
  lastToolResults,
  lastUserText,
  reply,
  ScriptedModelServer,
  text,
  thinking,
  toolUse,
  type ScriptedReply,
} from '../../src/testing/index.ts';

const clientFor = (model: ScriptedModelServer, options: ConstructorParameters<typeof Anthropic>[0] = {}) =>
  new Anthropic({ baseURL: model.url, apiKey: 'test-key', maxRetries: 0, ...options });

const params = (content = 'Hello'): MessageCreateParamsNonStreaming => ({
  model: 'claude-test-model',
  max_tokens: 1024,
  messages: [{ role: 'user', content }],
});

// Quotes, escapes, a surrogate pair and a control character: the input must survive being cut into partial_json.
const TRICKY_INPUT = { command: 'ls "my dir"\n\techo \\done', nested: { list: [1, 2.5, null, true], emoji: '😀 é' }, control: '\u0001' };

const richReply = (): ScriptedReply =>
  reply(
    thinking('The user wants a listing.', { signature: 'sig-1' }),
    text('Let me look 😀.'),
    toolUse('bash', TRICKY_INPUT, { id: 'toolu_fixed' }),
  );

const expectedRichContent: ContentBlock[] = [
  { type: 'thinking', thinking: 'The user wants a listing.', signature: 'sig-1' },
  { type: 'text', text: 'Let me look 😀.', citations: null },
  { type: 'tool_use', id: 'toolu_fixed', name: 'bash', input: TRICKY_INPUT, caller: { type: 'direct' } },
];

describe('ScriptedModelServer round trips through the SDK', () => {
  test('non-streaming create returns the scripted message', async () => {
    await using model = await ScriptedModelServer.start({ script: [richReply()] });
    const message = await clientFor(model).messages.create(params());

    assert.match(message.id, /^msg_/);
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, 'claude-test-model');
    assert.deepEqual(message.content, expectedRichContent);
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.stop_sequence, null);
    assert.ok(message.usage.input_tokens > 0);
    assert.ok(message.usage.output_tokens > 0);
    assert.equal(message.usage.cache_creation_input_tokens, 0);
    assert.equal(message.usage.cache_read_input_tokens, 0);
  });

  test('messages.stream() accumulates to the same content, stop reason and usage', async () => {
    await using model = await ScriptedModelServer.start({ script: [richReply(), richReply()] });
    const client = clientFor(model);
    const plain = await client.messages.create(params());
    const streamed = await client.messages.stream(params()).finalMessage();

    assert.deepEqual(streamed.content, expectedRichContent);
    assert.equal(streamed.stop_reason, 'tool_use');
    assert.deepEqual(streamed.usage, plain.usage);
  });

  test('create({ stream: true }) yields the API event sequence', async () => {
    await using model = await ScriptedModelServer.start({ script: [richReply()] });
    const stream = await clientFor(model).messages.create({ ...params(), stream: true });
    const events: RawMessageStreamEvent[] = [];
    for await (const event of stream) events.push(event);

    const types = events.map((event) => event.type);
    assert.equal(types[0], 'message_start');
    assert.deepEqual(types.slice(-2), ['message_delta', 'message_stop']);
    assert.equal(types.filter((type) => type === 'content_block_start').length, 3);
    assert.equal(types.filter((type) => type === 'content_block_stop').length, 3);

    const deltas = (index: number) =>
      events.flatMap((event) => (event.type === 'content_block_delta' && event.index === index ? [event.delta] : []));
    const thinkingText = deltas(0).flatMap((delta) => (delta.type === 'thinking_delta' ? [delta.thinking] : []));
    assert.ok(thinkingText.length > 1, 'thinking arrives in several deltas');
    assert.equal(thinkingText.join(''), 'The user wants a listing.');
    assert.deepEqual(deltas(0).at(-1), { type: 'signature_delta', signature: 'sig-1' });
    const textChunks = deltas(1).flatMap((delta) => (delta.type === 'text_delta' ? [delta.text] : []));
    assert.ok(textChunks.length > 1, 'text arrives in several deltas');
    assert.equal(textChunks.join(''), 'Let me look 😀.');
    const jsonChunks = deltas(2).flatMap((delta) => (delta.type === 'input_json_delta' ? [delta.partial_json] : []));
    assert.ok(jsonChunks.length > 1, 'tool input arrives in several deltas');
    assert.deepEqual(JSON.parse(jsonChunks.join('')), TRICKY_INPUT);

    const last = events.at(-2);
    assert.ok(last?.type === 'message_delta');
    assert.equal(last.delta.stop_reason, 'tool_use');
    assert.ok(last.usage.output_tokens > 0);
  });

  test('stop_reason defaults to end_turn, and scripted stop_reason and usage win in both modes', async () => {
    const capped: ScriptedReply = {
      ...reply('Out of room'),
      stop_reason: 'max_tokens',
      usage: { input_tokens: 42, output_tokens: 7, cache_read_input_tokens: 5, cache_creation_input_tokens: 3 },
    };
    await using model = await ScriptedModelServer.start({ script: [reply('Hi'), capped, capped] });
    const client = clientFor(model);

    assert.equal((await client.messages.create(params())).stop_reason, 'end_turn');
    for (const message of [await client.messages.create(params()), await client.messages.stream(params()).finalMessage()]) {
      assert.equal(message.stop_reason, 'max_tokens');
      assert.equal(message.usage.input_tokens, 42);
      assert.equal(message.usage.output_tokens, 7);
      assert.equal(message.usage.cache_read_input_tokens, 5);
      assert.equal(message.usage.cache_creation_input_tokens, 3);
    }
  });

  test('generated tool_use ids and thinking signatures look like the API', async () => {
    await using model = await ScriptedModelServer.start({ script: [reply(thinking('hmm'), toolUse('read', { path: 'a' }))] });
    const [thought, use] = (await clientFor(model).messages.create(params())).content;
    assert.ok(thought?.type === 'thinking' && thought.signature.length > 0);
    assert.ok(use?.type === 'tool_use');
    assert.match(use.id, /^toolu_01[0-9A-Za-z]{22}$/);
  });

  test('beta messages go to the same endpoint', async () => {
    await using model = await ScriptedModelServer.start({ script: [reply('beta hi')] });
    const message = await clientFor(model).beta.messages.create(params());
    assert.deepEqual(message.content.map((block) => block.type === 'text' && block.text), ['beta hi']);
    assert.equal(model.calls[0]?.path, '/v1/messages');
  });
});

describe('function scripts', () => {
  test('see the request and answer from the tool result', async () => {
    await using model = await ScriptedModelServer.start({
      script: (request, { callIndex }) => {
        const [result] = lastToolResults(request);
        if (result === undefined) return reply(`call ${callIndex}: you said ${lastUserText(request)}`, toolUse('bash', { command: 'date' }, { id: 'toolu_date' }));
        return reply(`The tool said: ${result.text} (error: ${String(result.is_error ?? false)})`);
      },
    });
    const client = clientFor(model);
    const first = await client.messages.create(params('What time is it?'));
    assert.deepEqual(first.content[0], { type: 'text', text: 'call 0: you said What time is it?', citations: null });

    const second = await client.messages.create({
      ...params(),
      messages: [
        { role: 'user', content: 'What time is it?' },
        { role: 'assistant', content: first.content.filter((block) => block.type !== 'text') },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_date', content: [{ type: 'text', text: 'Mon 12:00' }, { type: 'text', text: 'UTC' }] }],
        },
      ],
    });
    assert.deepEqual(second.content, [{ type: 'text', text: 'The tool said: Mon 12:00\nUTC (error: false)', citations: null }]);
    model.assertNoUnscriptedCalls();
  });

  test('may be async', async () => {
    await using model = await ScriptedModelServer.start({
      script: async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return reply('later');
      },
    });
    const message = await clientFor(model).messages.stream(params()).finalMessage();
    assert.deepEqual(message.content, [{ type: 'text', text: 'later', citations: null }]);
  });
});

describe('recording', () => {
  test('records every request with lowercased headers, body and answer', async () => {
    await using model = await ScriptedModelServer.start({ script: [reply('one'), reply('two')] });
    const client = clientFor(model, { defaultHeaders: { 'X-Test-Run': 'abc' } });
    await client.messages.create(params('first'));
    await client.messages.create({ ...params('second'), stream: true }).then(async (stream) => {
      for await (const _event of stream);
    });
    await clientFor(model).messages.create({ ...params(), max_tokens: 0 }).catch(() => undefined);

    assert.equal(model.callCount, 2);
    assert.equal(model.requests.length, 3);
    const [first, second] = model.calls;
    assert.ok(first && second);
    assert.equal(first.path, '/v1/messages');
    assert.equal(first.method, 'POST');
    assert.equal(first.headers.authorization, 'Bearer test-key');
    assert.equal(first.headers['x-test-run'], 'abc');
    assert.ok(first.headers['anthropic-version']);
    assert.equal(first.callIndex, 0);
    assert.equal(first.stream, false);
    assert.equal(second.stream, true);
    assert.deepEqual(first.body.messages, [{ role: 'user', content: 'first' }]);
    assert.ok(first.receivedAtMs <= second.receivedAtMs);
    assert.ok(first.answer.kind === 'reply');
    assert.deepEqual(first.answer.turn, reply('one'));
    assert.match(first.answer.message.id, /^msg_/);
    assert.equal(model.requests[2]?.answer.kind, 'rejected');
  });

  test('accepts any auth header', async () => {
    await using model = await ScriptedModelServer.start({ script: [reply('ok'), reply('ok')] });
    await new Anthropic({ baseURL: model.url, apiKey: null, defaultHeaders: { 'X-Api-Key': 'legacy' }, maxRetries: 0 }).messages.create(params());
    await new Anthropic({ baseURL: model.url, apiKey: null, authToken: 'tok', maxRetries: 0 }).messages.create(params());
    assert.deepEqual(
      model.calls.map((call) => call.headers['x-api-key'] ?? call.headers.authorization),
      ['legacy', 'Bearer tok'],
    );
  });

  test('waitForCalls resolves when calls arrive and times out loudly', async () => {
    await using model = await ScriptedModelServer.start({ script: [{ ...reply('slow'), delayMs: 100 }] });
    const pending = clientFor(model).messages.create(params());
    const calls = await model.waitForCalls(1, { timeoutMs: 1000 });
    assert.equal(calls.length, 1);
    assert.equal((await pending).stop_reason, 'end_turn');
    await assert.rejects(model.waitForCalls(2, { timeoutMs: 50 }), /waited 50 ms for 2 call\(s\); got 1/);
  });
});

describe('latency, script changes, lifecycle', () => {
  test('latencyMs and delayMs add up', async () => {
    await using model = await ScriptedModelServer.start({ script: [{ ...reply('slow'), delayMs: 60 }], latencyMs: 60 });
    const started = performance.now();
    await clientFor(model).messages.create(params());
    assert.ok(performance.now() - started >= 115);
  });

  test('push extends a list script and setScript replaces it', async () => {
    await using model = await ScriptedModelServer.start({ script: [reply('a')] });
    const client = clientFor(model);
    const textOf = async () => {
      const [block] = (await client.messages.create(params())).content;
      return block?.type === 'text' ? block.text : undefined;
    };
    model.push(reply('b'));
    assert.equal(model.remainingTurns, 2);
    assert.equal(await textOf(), 'a');
    assert.equal(await textOf(), 'b');
    model.setScript(() => reply('f'));
    assert.equal(model.remainingTurns, undefined);
    assert.equal(await textOf(), 'f');
    assert.throws(() => model.push(reply('c')), /push\(\) extends a list script/);
  });

  test('rejects a malformed list turn at start', async () => {
    await assert.rejects(
      ScriptedModelServer.start({ script: [reply('fine'), { content: [{ type: 'txt', text: 'x' }] } as unknown as ScriptedReply] }),
      /turn #2 of the script is an invalid reply: content\.0/,
    );
  });

  test('count_tokens answers a rough estimate without consuming a turn', async () => {
    await using model = await ScriptedModelServer.start({ script: [reply('kept')] });
    const client = clientFor(model);
    const long = 'x'.repeat(4000);
    const { input_tokens } = await client.messages.countTokens({ model: 'claude-test-model', messages: [{ role: 'user', content: long }] });
    assert.ok(input_tokens >= 1000 && input_tokens < 1100, `got ${input_tokens}`);
    assert.equal(model.callCount, 0);
    assert.equal(model.requests[0]?.path, '/v1/messages/count_tokens');
    assert.equal(model.remainingTurns, 1);
  });

  test('close() is idempotent and the url stops answering', async () => {
    const model = await ScriptedModelServer.start();
    const { url } = model;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await model.close();
    await model.close();
    await assert.rejects(fetch(`${url}/v1/messages`, { method: 'POST', body: '{}' }));
  });
});
