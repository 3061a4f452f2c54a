import type { StoredEvent } from './session-store.ts';

/** A live reader of one session's log, fed by `SessionFeeds`. */
export type FeedSubscriber = {
  /** New events, in order; may repeat events the reader already has or skip ahead (it fills gaps). */
  push(batch: readonly StoredEvent[]): void;
  /** Called when the store closes. */
  close(): void;
};

type Feed = { lastSeq: number; subscribers: Set<FeedSubscriber>; reading: boolean; again: boolean };

const BATCH = 500;

/**
 * Fans new events out to every live reader of a session with one read per
 * notification, instead of one read per reader: 200 open streams on a busy
 * session cost one query per append, not 200.
 */
export class SessionFeeds {
  readonly #feeds = new Map<string, Feed>();
  /** Per session, the last sequence number of an append of this process that is committing and will be published. */
  readonly #publishing = new Map<string, number>();
  readonly #read: (sessionId: string, afterSeq: number, limit: number) => Promise<StoredEvent[]>;

  constructor({ read }: { read: (sessionId: string, afterSeq: number, limit: number) => Promise<StoredEvent[]> }) {
    this.#read = read;
  }

  /** Adds a reader that has everything up to `cursor`; returns its unsubscribe. */
  subscribe(sessionId: string, cursor: number, subscriber: FeedSubscriber): () => void {
    let feed = this.#feeds.get(sessionId);
    if (!feed) {
      feed = { lastSeq: cursor, subscribers: new Set(), reading: false, again: false };
      this.#feeds.set(sessionId, feed);
    }
    feed.subscribers.add(subscriber);
    return () => {
      feed.subscribers.delete(subscriber);
      if (feed.subscribers.size === 0 && this.#feeds.get(sessionId) === feed) this.#feeds.delete(sessionId);
    };
  }

  /**
   * The session's log grew (to `lastSeq`, when the notification says): read what is new
   * once and hand it to every reader, unless the feed has it already.
   */
  notify(sessionId: string, lastSeq?: number): void {
    const feed = this.#feeds.get(sessionId);
    if (!feed) return;
    // Ours, or older: the feed has it, or is about to be handed it (the database may tell of a commit before the committer hears back).
    if (lastSeq !== undefined && Math.max(feed.lastSeq, this.#publishing.get(sessionId) ?? 0) >= lastSeq) return;
    if (feed.reading) {
      feed.again = true;
      return;
    }
    feed.reading = true;
    void this.#drain(sessionId, feed);
  }

  /**
   * Events this process just committed, in order: handed to the readers as they are when
   * they follow on from what the feed has (the usual case, `longhaul dev` or a worker that
   * serves streams), else read like any other notification.
   */
  publish(sessionId: string, batch: readonly StoredEvent[]): void {
    const last = batch.at(-1);
    if (last && (this.#publishing.get(sessionId) ?? 0) <= last.seq) this.#publishing.delete(sessionId);
    const feed = this.#feeds.get(sessionId);
    const first = batch[0];
    if (!feed || first === undefined || batch.at(-1)!.seq <= feed.lastSeq) return;
    if (feed.reading || first.seq !== feed.lastSeq + 1) {
      this.notify(sessionId);
      return;
    }
    feed.lastSeq = batch.at(-1)!.seq;
    for (const subscriber of feed.subscribers) subscriber.push(batch);
  }

  /** An append of this process is about to commit events up to `lastSeq`; `publish` (or `abandon`) follows. */
  willPublish(sessionId: string, lastSeq: number): void {
    this.#publishing.set(sessionId, Math.max(lastSeq, this.#publishing.get(sessionId) ?? 0));
  }

  /** The append announced by `willPublish` failed: whatever did commit is read as usual. */
  abandon(sessionId: string): void {
    this.#publishing.delete(sessionId);
    this.notify(sessionId);
  }

  closeAll(): void {
    for (const feed of this.#feeds.values()) for (const subscriber of feed.subscribers) subscriber.close();
    this.#feeds.clear();
  }

  async #drain(sessionId: string, feed: Feed): Promise<void> {
    try {
      do {
        feed.again = false;
        for (;;) {
          const batch = await this.#read(sessionId, feed.lastSeq, BATCH);
          const last = batch.at(-1);
          if (last) {
            feed.lastSeq = last.seq;
            for (const subscriber of feed.subscribers) subscriber.push(batch);
          }
          if (batch.length < BATCH) break;
        }
      } while (feed.again);
    } catch {
      // Readers fall back to their own polling; the next notification retries.
    } finally {
      feed.reading = false;
    }
  }
}
