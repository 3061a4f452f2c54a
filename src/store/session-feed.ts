import type { StoredEvent } from './session-store.ts';

/** A live reader of one session's log, fed by `SessionFeeds`. */
export type FeedSubscriber = {
  /** New events, in order; may repeat events the reader already has or skip ahead (it fills gaps). */
  push(batch: readonly StoredEvent[]): void;
  /** Called when the store closes. */
  close(): void;
};

type Feed = {
  lastSeq: number;
  subscribers: Set<FeedSubscriber>;
  reading: boolean;
  again: boolean;
  /** Appends of this process under way. */
  appending: number;
  /** The highest sequence number a notification named while appends were under way. */
  heardOf: number;
};

const BATCH = 500;

/**
 * Fans new events out to every live reader of a session with one read per
 * notification, instead of one read per reader: 200 open streams on a busy
 * session cost one query per append, not 200.
 */
export class SessionFeeds {
  readonly #feeds = new Map<string, Feed>();
  readonly #read: (sessionId: string, afterSeq: number, limit: number) => Promise<StoredEvent[]>;

  constructor({ read }: { read: (sessionId: string, afterSeq: number, limit: number) => Promise<StoredEvent[]> }) {
    this.#read = read;
  }

  /** Adds a reader that has everything up to `cursor`; returns its unsubscribe. */
  subscribe(sessionId: string, cursor: number, subscriber: FeedSubscriber): () => void {
    let feed = this.#feeds.get(sessionId);
    if (!feed) {
      feed = { lastSeq: cursor, subscribers: new Set(), reading: false, again: false, appending: 0, heardOf: 0 };
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
   * once and hand it to every reader, unless the feed has it already. While this process
   * appends to the session, a numbered notification waits for the append's end: the
   * database may tell of a commit before the committer hears back, and the committer
   * hands its events over itself (`endAppend`).
   */
  notify(sessionId: string, lastSeq?: number): void {
    const feed = this.#feeds.get(sessionId);
    if (!feed) return;
    if (lastSeq !== undefined && feed.lastSeq >= lastSeq) return;
    if (lastSeq !== undefined && feed.appending > 0) {
      feed.heardOf = Math.max(feed.heardOf, lastSeq);
      return;
    }
    if (feed.reading) {
      feed.again = true;
      return;
    }
    feed.reading = true;
    void this.#drain(sessionId, feed);
  }

  /** Every followed session's log may have grown unheard (the notifications were lost): each feed reads to find out. */
  notifyAll(): void {
    for (const sessionId of [...this.#feeds.keys()]) this.notify(sessionId);
  }

  /** Whether any live reader of this process follows the session. */
  follows(sessionId: string): boolean {
    return this.#feeds.has(sessionId);
  }

  /** This process starts an append to the session; `endAppend` follows, whatever happens. */
  beginAppend(sessionId: string): void {
    const feed = this.#feeds.get(sessionId);
    if (feed) feed.appending += 1;
  }

  /**
   * The append is over: `committed` holds the events it added, in order (none if it failed
   * or found them all stored). They go to the readers as they are when they follow on from
   * what the feed has (the usual case: `longhaul dev`, or a worker that serves streams);
   * anything else the feed heard of meanwhile is read.
   */
  endAppend(sessionId: string, committed: readonly StoredEvent[]): void {
    const feed = this.#feeds.get(sessionId);
    if (!feed) return;
    // A reader that joined during the append never counted it.
    feed.appending = Math.max(0, feed.appending - 1);
    const first = committed[0];
    const last = committed.at(-1);
    if (first && last && last.seq > feed.lastSeq) {
      if (!feed.reading && first.seq === feed.lastSeq + 1) {
        feed.lastSeq = last.seq;
        for (const subscriber of feed.subscribers) subscriber.push(committed);
      } else {
        feed.heardOf = Math.max(feed.heardOf, last.seq);
      }
    }
    if (feed.appending === 0 && feed.heardOf > feed.lastSeq) this.notify(sessionId);
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
