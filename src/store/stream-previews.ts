import type {
  BetaManagedAgentsDeltaEvent as DeltaEvent,
  BetaManagedAgentsStartEvent as StartEvent,
} from '@anthropic-ai/sdk/resources/beta/sessions/sessions';
import type { SqlDriver } from './sql-driver.ts';

/** `event_start` / `event_delta`: previews of an event being written, never stored. */
export type StreamPreview = StartEvent | DeltaEvent;

const PREVIEWS_CHANNEL = 'longhaul_session_previews';

/**
 * Previews travel by NOTIFY only (PostgreSQL or PGlite alike), so every API process
 * that streams the session sees those of any worker. Nobody listening costs nothing
 * beyond the NOTIFY itself; the store's LISTEN starts with the first subscriber.
 */
export class StreamPreviews {
  readonly #db: SqlDriver;
  readonly #subscribers = new Map<string, Set<(preview: StreamPreview) => void>>();
  #listening: Promise<() => Promise<void>> | undefined;

  constructor(db: SqlDriver) {
    this.#db = db;
  }

  async publish(sessionId: string, preview: StreamPreview): Promise<void> {
    await this.#db.notify(PREVIEWS_CHANNEL, JSON.stringify([sessionId, preview]));
  }

  /** Calls `onPreview` with the session's previews from now on; resolves to the unsubscribe. */
  async subscribe(sessionId: string, onPreview: (preview: StreamPreview) => void): Promise<() => void> {
    this.#listening ??= this.#db.listen(PREVIEWS_CHANNEL, (payload) => this.#dispatch(payload));
    await this.#listening;
    const set = this.#subscribers.get(sessionId) ?? new Set();
    set.add(onPreview);
    this.#subscribers.set(sessionId, set);
    return () => {
      set.delete(onPreview);
      if (set.size === 0) this.#subscribers.delete(sessionId);
    };
  }

  async close(): Promise<void> {
    const unlisten = await this.#listening;
    this.#listening = undefined;
    await unlisten?.();
    this.#subscribers.clear();
  }

  #dispatch(payload: string): void {
    let parsed: [string, StreamPreview];
    try {
      parsed = JSON.parse(payload) as [string, StreamPreview];
    } catch {
      return;
    }
    for (const onPreview of this.#subscribers.get(parsed[0]) ?? []) onPreview(parsed[1]);
  }
}
