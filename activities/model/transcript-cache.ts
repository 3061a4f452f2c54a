import { itemBytes } from '../../src/core/context-budget.ts';
import { liveRows, type TranscriptRow } from '../../src/core/context-view.ts';
import type { TranscriptItem } from '../../src/core/transcript.ts';
import type { SessionStore } from '../../src/store/session-store.ts';

/** What the cache holds of a session: the rows the model still sees, and the last position read. */
type Entry = { lastPos: number; rows: TranscriptRow[] };

/**
 * Per-worker cache of session transcripts. Items are append-only and immutable,
 * so a model call reads only what was appended since the last call on this
 * worker instead of the whole conversation every step. A worker that has not
 * seen the session (a restart, another worker's session) reads it once, from
 * where the model's view starts.
 *
 * Only what the model still sees is kept: once a compaction replaces the start of a
 * conversation (`liveRows`), that start is forgotten here, and a tool output cleared
 * from the requests is kept as its note (`forgetCleared`). So a session that runs for
 * days costs the worker about the same memory on its last day as on its first. Each
 * row keeps its size as stored, so the budget counts the same here as on a worker that
 * reads the session afresh.
 */
export class TranscriptCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxSessions: number;

  constructor({ maxSessions = 200 }: { maxSessions?: number } = {}) {
    this.#maxSessions = maxSessions;
  }

  /** The session's live rows (`liveRows`), oldest first. */
  async read(store: SessionStore, sessionId: string): Promise<TranscriptRow[]> {
    const entry = this.#entries.get(sessionId) ?? (await this.#load(store, sessionId));
    const fresh = await store.readTranscript(sessionId, { afterPos: entry.lastPos });
    let compacted = false;
    for (const { pos, item } of fresh) {
      // Positions are gapless per session; a gap means the cache is stale: reload.
      if (pos !== entry.lastPos + 1) return this.#reload(store, sessionId);
      entry.rows.push({ pos, item, bytes: itemBytes(item) });
      entry.lastPos = pos;
      compacted ||= item.kind === 'summary' || (item.kind === 'assistant' && item.content.some((block) => block.type === 'compaction'));
    }
    if (compacted) entry.rows = liveRows(entry.rows);
    this.#remember(sessionId, entry);
    return entry.rows;
  }

  async #reload(store: SessionStore, sessionId: string): Promise<TranscriptRow[]> {
    const entry = await this.#load(store, sessionId);
    this.#remember(sessionId, entry);
    return entry.rows;
  }

  async #load(store: SessionStore, sessionId: string): Promise<Entry> {
    const from = await store.transcriptLiveFrom(sessionId);
    const rows = (await store.readTranscript(sessionId, { afterPos: from })).map(({ pos, item }) => ({ pos, item, bytes: itemBytes(item) }));
    return { lastPos: rows.at(-1)?.pos ?? from, rows: liveRows(rows) };
  }

  /**
   * Keeps only the notes of tool outputs a request cleared (`fitToContextBudget`). The
   * caller passes only outputs no request will show in full again (`fitContext`: cleared
   * at the usual budget, whose cleared prefix only grows, and before the tail a summary
   * would keep), so this worker's requests stay those of a worker that reads the session
   * afresh. Each row keeps its stored size, so later budgets count them as before.
   */
  forgetCleared(sessionId: string, cleared: readonly { pos: number; item: TranscriptItem }[]): void {
    const rows = this.#entries.get(sessionId)?.rows;
    if (rows === undefined) return;
    for (const { pos, item } of cleared) {
      const index = indexOfPos(rows, pos);
      const row = rows[index];
      if (row !== undefined) rows[index] = { ...row, item };
    }
  }

  #remember(sessionId: string, entry: Entry): void {
    // Re-insert to keep Map order = least recently used first.
    this.#entries.delete(sessionId);
    this.#entries.set(sessionId, entry);
    while (this.#entries.size > this.#maxSessions) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}

/** Index of the row at `pos` in rows sorted by position, or -1. */
function indexOfPos(rows: readonly TranscriptRow[], pos: number): number {
  let low = 0;
  let high = rows.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const at = rows[middle]!.pos;
    if (at === pos) return middle;
    if (at < pos) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}
