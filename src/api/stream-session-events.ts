import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { SessionStore, StoredEvent } from '../store/session-store.ts';
import type { StreamPreview } from '../store/stream-previews.ts';
import { BadRequestError, errorResponseOf } from './api-errors.ts';

export type StreamSessionEventsOptions = {
  store: SessionStore;
  sessionId: string;
  /** Replay the log after this event id first (`Last-Event-ID` / `after_id`). */
  resumeAfter?: string | undefined;
  keepaliveMs: number;
  /** Event types to preview (`event_deltas`): their `event_start` / `event_delta` as the model writes them. */
  deltas?: ReadonlySet<'agent.message' | 'agent.thinking'> | undefined;
  /** The event after which the log takes nothing more: the stream closes on it. Default `session.status_terminated` (a thread's log: `session.thread_status_terminated`). */
  endType?: string | undefined;
};

/**
 * The session's event stream. Without `resumeAfter` it is live from the moment
 * of connection: the log's last sequence number is read before the response
 * starts, so a client that opens the stream and then sends a message sees every
 * event of that turn and nothing older. Each message is `event: <type>`,
 * `data: <json>` and `id: <event id>`; the ids are those of `events.list`.
 */
export async function streamSessionEvents(c: Context, { store, sessionId, resumeAfter, keepaliveMs, deltas, endType = 'session.status_terminated' }: StreamSessionEventsOptions): Promise<Response> {
  let afterSeq: number;
  if (resumeAfter !== undefined) {
    const seq = await store.seqOfEventId(sessionId, resumeAfter);
    if (seq === undefined) throw new BadRequestError(`Last-Event-ID: no event ${resumeAfter} in session ${sessionId}`);
    afterSeq = seq;
  } else {
    afterSeq = await store.lastSeq(sessionId);
  }
  // A session already terminated before this point sends nothing more: close at once.
  const [terminated] = await store.listEvents(sessionId, { order: 'desc', limit: 1, types: [endType] });
  const alreadyOver = terminated !== undefined && terminated.seq <= afterSeq;

  return streamSSE(c, async (stream) => {
    const controller = new AbortController();
    stream.onAbort(() => controller.abort());
    c.req.raw.signal.addEventListener('abort', () => controller.abort());
    // A first chunk makes the server send the status line and headers now: the SDK's
    // `await events.stream()` resolves on them, and clients send their message after it.
    await stream.write(': connected\n\n');
    const keepalive = setInterval(() => {
      stream.write(': keepalive\n\n').catch(() => controller.abort());
    }, keepaliveMs);
    let unsubscribe: (() => void) | undefined;
    try {
      if (alreadyOver) return;
      if (deltas === undefined || deltas.size === 0) {
        for await (const { event } of store.tail(sessionId, { afterSeq, signal: controller.signal })) {
          await stream.writeSSE({ event: event.type, data: JSON.stringify(event), id: event.id });
          if (event.type === endType) break;
        }
        return;
      }
      // Previews and log events share one writer; a preview whose event is already out is dropped.
      const outbox = new Outbox();
      unsubscribe = await store.previews.subscribe(sessionId, (preview) => outbox.push({ preview }));
      void (async () => {
        try {
          for await (const { event } of store.tail(sessionId, { afterSeq, signal: controller.signal })) outbox.push({ event });
        } catch (error) {
          outbox.push({ error });
        }
        outbox.push({ end: true });
      })();
      const started = new Set<string>();
      const written = new Set<string>();
      for (;;) {
        const item = await outbox.next(controller.signal);
        if (!item || 'end' in item) break;
        if ('error' in item) throw item.error;
        if ('event' in item) {
          const { event } = item;
          written.add(event.id);
          await stream.writeSSE({ event: event.type, data: JSON.stringify(event), id: event.id });
          if (event.type === endType) break;
          continue;
        }
        const { preview } = item;
        if (preview.type === 'event_start') {
          if (!deltas.has(preview.event.type) || written.has(preview.event.id)) continue;
          started.add(preview.event.id);
        } else if (!started.has(preview.event_id) || written.has(preview.event_id)) continue;
        // No `id:` line: previews are not in the log, and Last-Event-ID must name log events.
        await stream.writeSSE({ event: preview.type, data: JSON.stringify(preview) });
      }
    } catch (error) {
      if (!controller.signal.aborted) {
        // Named `error`, the SDK's stream iterator throws it as an APIError.
        const { errorType, message } = errorResponseOf(error);
        await stream.writeSSE({ event: 'error', data: JSON.stringify({ type: 'error', error: { type: errorType, message } }) }).catch(() => {});
      }
    } finally {
      unsubscribe?.();
      clearInterval(keepalive);
      controller.abort();
    }
  });
}

type OutboxItem = { event: StoredEvent['event'] } | { preview: StreamPreview } | { error: unknown } | { end: true };

/** A queue with one reader, so two producers can feed one SSE writer in arrival order. */
class Outbox {
  readonly #items: OutboxItem[] = [];
  #wake: (() => void) | undefined;

  push(item: OutboxItem): void {
    this.#items.push(item);
    this.#wake?.();
  }

  /** The next item, or undefined once `signal` aborts. */
  async next(signal: AbortSignal): Promise<OutboxItem | undefined> {
    while (this.#items.length === 0) {
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      this.#wake = undefined;
    }
    return this.#items.shift();
  }
}
