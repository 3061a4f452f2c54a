import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contextItems, contextStart, liveFromPos, liveRows, type TranscriptRow } from '../../src/core/context-view.ts';
import { assembleMessages, SUMMARY_PREAMBLE, type TranscriptItem } from '../../src/core/transcript.ts';

const user = (text: string): TranscriptItem => ({ kind: 'user', content: [{ type: 'text', text }] });
const toolCall = (id: string): TranscriptItem => ({ kind: 'assistant', stop_reason: 'tool_use', content: [{ type: 'tool_use', id, name: 'bash', input: {} }] as never });
const result = (id: string): TranscriptItem => ({ kind: 'tool_result', tool_use_id: id, content: [{ type: 'text', text: `out ${id}` }], is_error: false });
const summary = (text: string, through: number): TranscriptItem => ({ kind: 'summary', text, through });
const compacted = (summaryText: string, id: string): TranscriptItem => ({
  kind: 'assistant',
  stop_reason: 'tool_use',
  content: [
    { type: 'compaction', content: 'older', encrypted_content: 'e0' },
    { type: 'compaction', content: summaryText, encrypted_content: 'e1' },
    { type: 'tool_use', id, name: 'bash', input: {} },
  ] as never,
});
const rowsOf = (items: TranscriptItem[]): TranscriptRow[] => items.map((item, index) => ({ pos: index + 1, item }));

test('without compaction the model sees every item', () => {
  const rows = rowsOf([user('go'), toolCall('t1'), result('t1')]);
  assert.deepEqual(contextStart(rows), { kind: 'all' });
  assert.deepEqual(liveRows(rows), rows);
  assert.equal(liveFromPos(contextStart(rows)), 0);
});

test('a summary replaces the items up to its position, and the summary covering the most wins', () => {
  const rows = rowsOf([
    user('go'), // 1
    toolCall('t1'), // 2
    result('t1'), // 3
    toolCall('t2'), // 4
    result('t2'), // 5
    summary('S-long', 3), // 6
    toolCall('t3'), // 7
    result('t3'), // 8
    summary('S-short (a stale worker, stored late)', 1), // 9
  ]);
  const live = liveRows(rows);
  assert.deepEqual(live.map((r) => r.pos), [6, 4, 5, 7, 8]);
  assert.equal(liveFromPos(contextStart(rows)), 3);
  const messages = assembleMessages(contextItems(rows));
  assert.deepEqual(messages[0], { role: 'user', content: [{ type: 'text', text: `${SUMMARY_PREAMBLE}\n<conversation-summary>\nS-long\n</conversation-summary>` }] });
  assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user']);
  assert.ok(!JSON.stringify(messages).includes('"go"'), 'the first message is summarised away');
});

test('after a server compaction the view starts at that answer, cut to its last compaction block', () => {
  const rows = rowsOf([user('go'), toolCall('t1'), result('t1'), compacted('S', 't2'), result('t2')]);
  assert.deepEqual(contextStart(rows), { kind: 'compaction', pos: 4 });
  assert.equal(liveFromPos(contextStart(rows)), 3);
  const items = contextItems(rows);
  assert.equal(items.length, 2);
  const first = items[0];
  assert.ok(first?.kind === 'assistant');
  assert.deepEqual(first.content.map((b) => b.type), ['compaction', 'tool_use']);
  assert.deepEqual(first.content[0], { type: 'compaction', content: 'S', encrypted_content: 'e1' }, 'the block goes back verbatim');
  // The stored item itself is untouched.
  assert.equal((rows[3]!.item as { content: unknown[] }).content.length, 3);
});

test('a summary written after a server compaction covers it; one written before does not', () => {
  const before = rowsOf([user('go'), toolCall('t1'), result('t1'), summary('S', 2), compacted('C', 't2'), result('t2')]);
  assert.deepEqual(contextStart(before), { kind: 'compaction', pos: 5 });
  const after = rowsOf([user('go'), compacted('C', 't1'), result('t1'), toolCall('t2'), result('t2'), summary('S', 3)]);
  const start = contextStart(after);
  assert.equal(start.kind, 'summary');
  assert.deepEqual(liveRows(after).map((r) => r.pos), [6, 4, 5]);
});
