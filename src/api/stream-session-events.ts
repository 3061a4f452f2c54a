import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { SessionStore } from '../store/session-store.ts';
import { BadRequestError, errorResponseOf } from './api-errors.ts';

export type StreamSessionEventsOptions = {
  store: SessionStore;
  sessionId: string;
  /** Replay the log after this event id first (`Last-Event-ID` / `after_id`). */
  resumeAfter?: string | undefined;
  keepaliveMs: number;
};

/**
 * The session's event stream. Without `resumeAfter` it is live from the moment
 * of connection: the log's last sequence number is read before the response
 * starts, so a client that opens the stream and then sends a message sees every
 * event of that turn and nothing older. Each message is `event: <type>`,
 * `data: <json>` and `id: <event id>`; the ids are those of `events.list`.
 */
export async function streamSessionEvents(c: Context, { store, sessionId, resumeAfter, keepaliveMs }: StreamSessionEventsOptions): Promise<Response> {
  let afterSeq: number;
  if (resumeAfter !== undefined) {
    const seq = await store.seqOfEventId(sessionId, resumeAfter);
    if (seq === undefined) throw new BadRequestError(`Last-Event-ID: no event ${resumeAfter} in session ${sessionId}`);
    afterSeq = seq;
  } else {
    afterSeq = await store.lastSeq(sessionId);
  }
  // A session already terminated before this point sends nothing more: close at once.
  const [terminated] = await store.listEvents(sessionId, { order: 'desc', limit: 1, types: ['session.status_terminated'] });
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
    try {
      if (alreadyOver) return;
      for await (const { event } of store.tail(sessionId, { afterSeq, signal: controller.signal })) {
        await stream.writeSSE({ event: event.type, data: JSON.stringify(event), id: event.id });
        if (event.type === 'session.status_terminated') break;
      }
    } catch (error) {
      if (!controller.signal.aborted) {
        // Named `error`, the SDK's stream iterator throws it as an APIError.
        const { errorType, message } = errorResponseOf(error);
        await stream.writeSSE({ event: 'error', data: JSON.stringify({ type: 'error', error: { type: errorType, message } }) }).catch(() => {});
      }
    } finally {
      clearInterval(keepalive);
      controller.abort();
    }
  });
}
