import type { TranscriptItem } from './transcript.ts';

/**
 * Keeps a long session's request inside the model's context window by
 * clearing the oldest tool outputs (the bulk of an agent's context) and
 * leaving a note in their place; user and assistant turns are kept.
 *
 * The cleared prefix only grows in steps of half the budget, so between steps
 * the request prefix stays byte-identical and the prompt cache keeps hitting.
 * Pure and deterministic: the same items, sizes and budget always give the same
 * result. `sizes` are the items' sizes as stored (default: their JSON now): an item
 * already cleared by a reader that kept only the note still counts what it was.
 */
export function fitToContextBudget(items: readonly TranscriptItem[], budgetBytes: number, { sizes = items.map(itemBytes) }: { sizes?: readonly number[] } = {}): TranscriptItem[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total <= budgetBytes) return [...items];
  const step = Math.max(1, Math.floor(budgetBytes / 2));
  // Clear at least `excess` bytes, rounded up to a whole step.
  const mustFree = Math.ceil((total - budgetBytes / 2) / step) * step;
  let freed = 0;
  return items.map((item, index) => {
    if (freed >= mustFree || item.kind !== 'tool_result') return item;
    const size = sizes[index] ?? 0;
    freed += size;
    return {
      ...item,
      content: [{ type: 'text', text: `[tool output cleared to keep the conversation within the context window; it was ${size} bytes]` }],
    };
  });
}

/** Size of transcript items as the budget counts it: their JSON. */
export function transcriptBytes(items: readonly TranscriptItem[]): number {
  return items.reduce((total, item) => total + itemBytes(item), 0);
}

/** One item's size as the budget counts it. */
export function itemBytes(item: TranscriptItem): number {
  return JSON.stringify(item).length;
}
