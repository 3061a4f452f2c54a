import { itemBytes } from './context-budget.ts';
import type { AnswerBlock, TranscriptItem } from './transcript.ts';

/**
 * A transcript item with its position (gapless per session, from 1) and, when the reader
 * keeps it, its size as stored: a reader may swap a cleared tool output for its note
 * (`TranscriptCache`), and the budget still counts what the output was.
 */
export type TranscriptRow = { pos: number; item: TranscriptItem; bytes?: number | undefined };

/** A row's size as the budget counts it: as stored. */
export function rowBytes(row: TranscriptRow): number {
  return row.bytes ?? itemBytes(row.item);
}

/**
 * Where the model's view of a session starts. Two kinds of compaction replace the
 * beginning of a conversation:
 * - a `summary` item (written by Longhaul's summary request) stands in for every item
 *   up to its `through` position, earlier summaries included;
 * - an answer holding a `compaction` block (Anthropic's server-side compaction) stands
 *   in for everything before it: the API drops what precedes its last compaction block.
 * Whichever replaces more wins.
 */
export type ContextStart =
  | { kind: 'all' }
  | { kind: 'summary'; summary: SummaryRow }
  | { kind: 'compaction'; pos: number };

/** A summary row. */
export type SummaryRow = TranscriptRow & { item: Extract<TranscriptItem, { kind: 'summary' }> };

/** The latest compaction among `rows`: the summary that covers the most, or the latest answer with a compaction block. */
export function contextStart(rows: readonly TranscriptRow[]): ContextStart {
  let summary: SummaryRow | undefined;
  let compactionPos = 0;
  for (const row of rows) {
    if (isSummaryRow(row) && (summary === undefined || row.item.through > summary.item.through)) summary = row;
    if (row.item.kind === 'assistant' && row.item.content.some(isCompactionBlock)) compactionPos = Math.max(compactionPos, row.pos);
  }
  return startOf({ summary, compactionPos });
}

/**
 * The start given the two candidates: the summary covering the most (not the last
 * stored: a stale worker's late summary of a shorter range must not undo a longer
 * one), and the position of the latest answer with a compaction block (0: none).
 */
export function startOf({ summary, compactionPos }: { summary: SummaryRow | undefined; compactionPos: number }): ContextStart {
  // A summary written after a server compaction covers that answer too (it was part of what it summarised).
  if (summary !== undefined && summary.item.through >= compactionPos) return { kind: 'summary', summary };
  if (compactionPos > 0) return { kind: 'compaction', pos: compactionPos };
  return { kind: 'all' };
}

export function isSummaryRow(row: TranscriptRow): row is SummaryRow {
  return row.item.kind === 'summary';
}

/**
 * The rows the model still sees, in order: from the latest compaction on (the summary
 * first, then the items after what it replaced). What is left out never comes back,
 * so a reader may forget it: this is what keeps a long session's worker memory flat.
 */
export function liveRows(rows: readonly TranscriptRow[]): TranscriptRow[] {
  const start = contextStart(rows);
  switch (start.kind) {
    case 'all':
      return [...rows];
    case 'compaction':
      return rows.filter((row) => row.pos >= start.pos);
    case 'summary': {
      const { through } = start.summary.item;
      return [start.summary, ...rows.filter((row) => row.pos > through && row.item.kind !== 'summary')];
    }
  }
}

/**
 * The rows a request is built from: `liveRows`, with an answer that holds compaction
 * blocks cut to begin at its last one (the API ignores what precedes it anyway, and a
 * request that starts with the compaction block is what it documents).
 */
export function contextRows(rows: readonly TranscriptRow[]): TranscriptRow[] {
  return liveRows(rows).map((row, index) => {
    const { item } = row;
    if (index !== 0 || item.kind !== 'assistant') return row;
    const last = item.content.findLastIndex(isCompactionBlock);
    if (last <= 0) return row;
    const cut = { ...item, content: item.content.slice(last) };
    return { pos: row.pos, item: cut, bytes: itemBytes(cut) };
  });
}

/** The items of `contextRows`. */
export function contextItems(rows: readonly TranscriptRow[]): TranscriptItem[] {
  return contextRows(rows).map((row) => row.item);
}

/** The transcript position before the first row `liveRows` can need: a reader that starts after it misses nothing the model sees. */
export function liveFromPos(start: ContextStart): number {
  switch (start.kind) {
    case 'all':
      return 0;
    case 'compaction':
      return start.pos - 1;
    case 'summary':
      // The summary itself is stored after what it replaced.
      return start.summary.item.through;
  }
}

export function isCompactionBlock(block: AnswerBlock): boolean {
  return block.type === 'compaction';
}
