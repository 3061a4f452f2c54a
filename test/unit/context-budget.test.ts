import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitToContextBudget } from '../../src/core/context-budget.ts';
import type { TranscriptItem } from '../../src/core/transcript.ts';

const result = (i: number, bytes: number): TranscriptItem => ({ kind: 'tool_result', tool_use_id: `toolu_${i}`, is_error: false, content: [{ type: 'text', text: 'x'.repeat(bytes) }] });
const assistant = (i: number): TranscriptItem => ({ kind: 'assistant', stop_reason: 'tool_use', content: [{ type: 'tool_use', id: `toolu_${i}`, name: 'bash', input: {} }] as never });
const conversation = (steps: number) => [{ kind: 'user', content: [{ type: 'text', text: 'task' }] } as TranscriptItem, ...Array.from({ length: steps }, (_, i) => [assistant(i), result(i, 20_000)]).flat()];
const size = (items: TranscriptItem[]) => JSON.stringify(items).length;
const textOf = (item: TranscriptItem) => (item.kind === 'tool_result' && item.content[0]?.type === 'text' ? item.content[0].text : '');
const cleared = (items: TranscriptItem[]) => items.filter((it) => it.kind === 'tool_result' && textOf(it).startsWith('[tool output cleared')).length;

test('under the budget nothing changes', () => {
  const items = conversation(3);
  assert.deepEqual(fitToContextBudget(items, 1_000_000), items);
});

test('over the budget the oldest tool outputs are cleared, newest and non-tool items kept', () => {
  const items = conversation(100);
  const fitted = fitToContextBudget(items, 300_000);
  assert.ok(size(fitted) <= 300_000, `fitted size ${size(fitted)}`);
  assert.equal(fitted.length, items.length);
  assert.deepEqual(fitted.at(-1), items.at(-1), 'the newest output is intact');
  assert.deepEqual(fitted.filter((it) => it.kind !== 'tool_result'), items.filter((it) => it.kind !== 'tool_result'));
  const firstKept = fitted.findIndex((it) => it.kind === 'tool_result' && !textOf(it).startsWith('[tool output cleared'));
  assert.ok(fitted.slice(firstKept).every((it) => it.kind !== 'tool_result' || !textOf(it).startsWith('[tool output cleared')), 'cleared items are a prefix');
});

test('the cleared prefix moves in steps, so consecutive requests share their prefix', () => {
  let changes = 0;
  let previous = -1;
  for (let steps = 1; steps <= 200; steps++) {
    const count = cleared(fitToContextBudget(conversation(steps), 400_000));
    if (count !== previous) changes++;
    previous = count;
  }
  // 200 steps x 20 KB = 4 MB through a 400 KB budget: the boundary moves about every
  // tenth step (a step of half the budget), so most requests reuse the cached prefix.
  assert.ok(changes <= 40, `boundary moved ${changes} times in 200 steps`);
  assert.ok(previous > 150);
});
