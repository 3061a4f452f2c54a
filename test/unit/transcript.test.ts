import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assembleMessages, INTERRUPTED_TOOL_RESULT, type TranscriptItem } from '../../src/core/transcript.ts';

const toolUse = (id: string) => ({ type: 'tool_use' as const, id, name: 'bash', input: { command: 'ls' } });

test('tool results come first in the user message that answers a tool_use turn, in the order of the calls', () => {
  const items: TranscriptItem[] = [
    { kind: 'user', content: [{ type: 'text', text: 'go' }] },
    { kind: 'assistant', content: [toolUse('toolu_a'), toolUse('toolu_b')] as never, stop_reason: 'tool_use' },
    { kind: 'tool_result', tool_use_id: 'toolu_b', content: [{ type: 'text', text: 'B' }], is_error: false },
    { kind: 'user', content: [{ type: 'text', text: 'also this' }] },
    { kind: 'tool_result', tool_use_id: 'toolu_a', content: [{ type: 'text', text: 'A' }], is_error: true },
  ];
  const messages = assembleMessages(items);
  assert.equal(messages.length, 3);
  assert.deepEqual(messages[2], {
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'toolu_a', is_error: true, content: [{ type: 'text', text: 'A' }] },
      { type: 'tool_result', tool_use_id: 'toolu_b', is_error: false, content: [{ type: 'text', text: 'B' }] },
      { type: 'text', text: 'also this' },
    ],
  });
});

test('a tool_use without a result (interrupted) gets an error result', () => {
  const messages = assembleMessages([
    { kind: 'user', content: [{ type: 'text', text: 'go' }] },
    { kind: 'assistant', content: [toolUse('toolu_x')] as never, stop_reason: 'tool_use' },
    { kind: 'user', content: [{ type: 'text', text: 'stop that, do this instead' }] },
  ]);
  assert.deepEqual(messages[2]?.content, [
    { type: 'tool_result', tool_use_id: 'toolu_x', is_error: true, content: INTERRUPTED_TOOL_RESULT },
    { type: 'text', text: 'stop that, do this instead' },
  ]);
});

test('consecutive user messages merge; redacted blocks are dropped; file sources are described', () => {
  const messages = assembleMessages([
    { kind: 'user', content: [{ type: 'text', text: 'one' }, { type: 'redacted' }] },
    { kind: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'file_1' } }] },
  ]);
  assert.deepEqual(messages, [
    { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: '[image file file_1 is not available]' }] },
  ]);
});

test('migration statements split after comments are removed', async () => {
  const { statementsOf } = await import('../../src/store/migrate-schema.ts');
  assert.deepEqual(statementsOf('-- a; b\nCREATE TABLE x (a int); -- trailing; note\nCREATE INDEX i ON x (a);'), ['CREATE TABLE x (a int)', 'CREATE INDEX i ON x (a)']);
  // A function body's own `;` stay in it.
  assert.deepEqual(statementsOf('CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; PERFORM 2; END $$; SELECT 1'), [
    'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; PERFORM 2; END $$',
    'SELECT 1',
  ]);
});
