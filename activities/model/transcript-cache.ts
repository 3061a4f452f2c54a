import type { TranscriptItem } from '../../src/core/transcript.ts';
import type { SessionStore } from '../../src/store/session-store.ts';

type Entry = { lastPos: number; items: TranscriptItem[] };

/**
 * Per-worker cache of session transcripts. Items are append-only and immutable,
 * so a model call reads only what was appended since the last call on this
 * worker instead of the whole conversation every step. A worker that has not
 * seen the session (a restart, another worker's session) reads it once.
 */
export class TranscriptCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxSessions: number;

  constructor({ maxSessions = 200 }: { maxSessions?: number } = {}) {
    this.#maxSessions = maxSessions;
  }

  async read(store: SessionStore, sessionId: string): Promise<TranscriptItem[]> {
    const entry = this.#entries.get(sessionId) ?? { lastPos: 0, items: [] };
    const fresh = await store.readTranscript(sessionId, { afterPos: entry.lastPos });
    for (const row of fresh) {
      // Positions are gapless per session; a gap means the cache is stale: rebuild.
      if (row.pos !== entry.lastPos + 1) return this.#rebuild(store, sessionId);
      entry.items.push(row.item);
      entry.lastPos = row.pos;
    }
    this.#remember(sessionId, entry);
    return entry.items;
  }

  async #rebuild(store: SessionStore, sessionId: string): Promise<TranscriptItem[]> {
    const rows = await store.readTranscript(sessionId);
    const entry = { lastPos: rows.at(-1)?.pos ?? 0, items: rows.map((r) => r.item) };
    this.#remember(sessionId, entry);
    return entry.items;
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
