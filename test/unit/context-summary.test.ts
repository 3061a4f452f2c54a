import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keptTailPos, planSummary, renderForSummary, summaryRequestText } from '../../src/core/context-summary.ts';
import type { TranscriptRow } from '../../src/core/context-view.ts';
import type { TranscriptItem } from '../../src/core/transcript.ts';

const user = (text: string): TranscriptItem => ({ kind: 'user', content: [{ type: 'text', text }] });
const step = (i: number, bytes: number): TranscriptItem[] => [
  { kind: 'assistant', stop_reason: 'tool_use', content: [{ type: 'text', text: `step ${i} ${'t'.repeat(bytes)}`, citations: null }, { type: 'tool_use', id: `toolu_${i}`, name: 'bash', input: { command: `echo ${i}` } }] as never },
  { kind: 'tool_result', tool_use_id: `toolu_${i}`, content: [{ type: 'text', text: `out ${i}` }], is_error: false },
];
const rowsOf = (items: TranscriptItem[], firstPos = 1): TranscriptRow[] => items.map((item, index) => ({ pos: firstPos + index, item }));
const conversation = (steps: number, bytes = 1000) => rowsOf([user('the task'), ...Array.from({ length: steps }, (_, i) => step(i, bytes)).flat()]);
const bytesOf = (rows: TranscriptRow[]) => rows.reduce((n, r) => n + JSON.stringify(r.item).length, 0);

test('nothing to summarise when the latest turn is all there is', () => {
  assert.equal(planSummary(rowsOf([user('hello')]), { keepBytes: 10, inputBytes: 10_000 }), undefined);
  assert.equal(planSummary(rowsOf(step(0, 50_000)), { keepBytes: 10, inputBytes: 10_000 }), undefined);
});

test('the kept tail fits keepBytes and starts at an answer or a user turn, never at a tool result', () => {
  const rows = conversation(40);
  for (const keepBytes of [500, 3_000, 7_777, 20_000]) {
    const plan = planSummary(rows, { keepBytes, inputBytes: 1_000_000 });
    assert.ok(plan);
    const kept = rows.filter((r) => r.pos > plan.through);
    assert.notEqual(kept[0]?.item.kind, 'tool_result', `keep ${keepBytes}`);
    assert.ok(kept.length >= 2, 'at least the latest turn is kept');
    if (kept.length > 2) assert.ok(bytesOf(kept) <= keepBytes, `kept ${bytesOf(kept)} bytes with keep ${keepBytes}`);
    assert.deepEqual(plan.rows.map((r) => r.pos), rows.filter((r) => r.pos <= plan.through).map((r) => r.pos), 'everything before the tail, in order');
    assert.equal(plan.previous, undefined);
  }
});

test('the tail a summary keeps starts where planSummary stops, and only moves forward as the conversation grows', () => {
  let previous = 0;
  for (let steps = 1; steps <= 40; steps++) {
    const rows = conversation(steps);
    const tail = keptTailPos(rows, { keepBytes: 5_000 });
    assert.ok(tail !== undefined && tail >= previous, `step ${steps}: tail at ${tail}, before at ${previous}`);
    const plan = planSummary(rows, { keepBytes: 5_000, inputBytes: 1_000_000 });
    assert.equal(plan === undefined ? rows[0]!.pos : plan.through + 1, tail);
    previous = tail;
  }
  assert.equal(keptTailPos([], { keepBytes: 5_000 }), undefined);
});

test('a long stretch is summarised a part at a time, each part ending before an answer', () => {
  const rows = conversation(200);
  const plan = planSummary(rows, { keepBytes: 5_000, inputBytes: 20_000 });
  assert.ok(plan);
  const rendered = plan.rows.map((r) => renderForSummary(r.item).length).reduce((a, b) => a + b, 0);
  assert.ok(rendered <= 20_000, `first part renders to ${rendered} characters`);
  assert.ok(rendered > 15_000, 'and is not needlessly small');
  assert.equal(rows.find((r) => r.pos === plan.through + 1)?.item.kind, 'assistant');
  // The same rows give the same plan: a retry asks for the same range.
  assert.deepEqual(planSummary(rows, { keepBytes: 5_000, inputBytes: 20_000 }), plan);
});

test('a new summary continues the latest one and covers only what follows it', () => {
  const rows = [{ pos: 41, item: { kind: 'summary', text: 'S1', through: 20 } } as TranscriptRow, ...conversation(30).slice(21).map((r) => ({ ...r, pos: r.pos + 20 }))];
  const plan = planSummary(rows, { keepBytes: 3_000, inputBytes: 1_000_000 });
  assert.ok(plan);
  assert.equal(plan.previous, 'S1');
  assert.ok(plan.rows.every((r) => r.item.kind !== 'summary'));
  assert.ok(plan.through > 41);
  const text = summaryRequestText(plan, { maxWords: 300 });
  assert.match(text, /^<previous-summary>\nS1\n<\/previous-summary>/);
  assert.match(text, /folding in the previous one, in at most 300 words\.$/);
});

test('long blocks are cut in the summary request; thinking is left out', () => {
  const rendered = renderForSummary({ kind: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'x'.repeat(10_000) }], is_error: true });
  assert.match(rendered, /^\[tool result, an error\]\nx{2000} … \[8000 more characters\]$/);
  const answer = renderForSummary({ kind: 'assistant', stop_reason: 'end_turn', content: [{ type: 'thinking', thinking: 'secret', signature: 's' }, { type: 'text', text: 'done', citations: null }] as never });
  assert.equal(answer, '[assistant]\ndone');
});
