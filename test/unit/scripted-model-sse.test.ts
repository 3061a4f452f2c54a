import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { partialParse } from '@anthropic-ai/sdk/_vendor/partial-json-parser/parser';
import { messageStreamEvents, splitJson, splitText } from '../../src/testing/messages-sse.ts';
import { buildMessage } from '../../src/testing/scripted-message.ts';
import { reply, thinking, toolUse } from '../../src/testing/script.ts';

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('splitting into deltas', () => {
  const inputs: Array<Record<string, unknown>> = [
    {},
    { a: '\\\\\\\\' },
    { quote: '"""', newline: '\n\n\n', control: '\u0001\u0002\u001f' },
    { emoji: '😀😀😀😀', accents: 'ééé', lone: '\ud83d' },
    { nested: { list: [1, -2.5e10, null, false, { deep: ['x'] }] } },
  ];

  for (const input of inputs) {
    test(`tool input ${JSON.stringify(input)} splits at safe points`, () => {
      const json = JSON.stringify(input);
      const pieces = splitJson(json);
      assert.equal(pieces.join(''), json);
      let prefix = '';
      for (const piece of pieces) {
        prefix += piece;
        // Every prefix is what the SDK's accumulator will partial-parse; none may be cut inside an escape.
        assert.doesNotThrow(() => partialParse(prefix), `prefix ${JSON.stringify(prefix)}`);
        assert.doesNotMatch(piece, LONE_SURROGATE);
      }
      assert.deepEqual(partialParse(prefix), input);
    });
  }

  test('text splits into a few pieces without breaking surrogate pairs', () => {
    for (const value of ['', 'a', 'Hi', 'Hello world', '😀😀😀', 'a😀b😀c😀d']) {
      const pieces = splitText(value);
      assert.equal(pieces.join(''), value);
      assert.ok(pieces.length <= 3);
      for (const piece of pieces) assert.doesNotMatch(piece, LONE_SURROGATE);
    }
    assert.deepEqual(splitText(''), []);
  });
});

describe('messageStreamEvents', () => {
  test('frames blocks in order and ends with message_delta, message_stop', () => {
    const message = buildMessage({
      reply: reply(thinking('why'), 'answer', toolUse('bash', { command: 'ls' })),
      model: 'claude-test-model',
      estimatedInputTokens: 10,
    });
    const events = messageStreamEvents(message);
    const shape = events.map((event) => ('index' in event ? `${event.type}@${event.index}` : event.type));
    assert.deepEqual(shape.slice(0, 3), ['message_start', 'ping', 'content_block_start@0']);
    assert.deepEqual(shape.slice(-3), ['content_block_stop@2', 'message_delta', 'message_stop']);
    const start = events[0];
    assert.ok(start?.type === 'message_start');
    assert.deepEqual(start.message.content, []);
    assert.equal(start.message.stop_reason, null);
  });
});
