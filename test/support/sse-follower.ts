import { createParser } from 'eventsource-parser';
import type { SessionEvent } from '../../src/schemas/events.ts';

export type FollowedStream = {
  /** Resolves when the first connection is open: events from then on are seen. */
  connected: Promise<void>;
  /** Resolves when `until` accepted an event, or rejects at the deadline. */
  done: Promise<void>;
  /** Every log event received, in arrival order (duplicates kept: they are what a test looks for). */
  received: SessionEvent[];
  /** For each received event, the connection (1, 2, …) that brought it, or 0 when `events.list` did. */
  via: number[];
  /** Connections made, the first included. */
  connections: number;
  /** Events read from `events.list` instead: a connection cut before its first event leaves no id to resume from. */
  backfilled: number;
  /** Why each connection ended before `until` (cut, error event, refused…). */
  breaks: string[];
  close(): void;
};

/**
 * Follows a session's event stream the way a careful client does through a balancer:
 * when a connection breaks it connects again with `Last-Event-ID` set to the last event
 * it saw, so no event should be missed or seen twice.
 */
export function followSessionStream({
  apiUrl,
  apiKey,
  sessionId,
  until,
  timeoutMs,
  reconnectDelayMs = 1500,
}: {
  apiUrl: string;
  apiKey: string;
  sessionId: string;
  until: (event: SessionEvent, received: readonly SessionEvent[]) => boolean;
  timeoutMs: number;
  /** Wait before connecting again. Default 1.5 s. */
  reconnectDelayMs?: number;
}): FollowedStream {
  const controller = new AbortController();
  const received: SessionEvent[] = [];
  const breaks: string[] = [];
  let lastId: string | undefined;
  let finished = false;
  let onConnected!: () => void;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const state: FollowedStream = { connected, done: Promise.resolve(), received, via: [], connections: 0, backfilled: 0, breaks, close: () => controller.abort() };

  const baseHeaders: Record<string, string> = { 'x-api-key': apiKey, 'anthropic-version': '2023-06-01' };
  const take = (event: SessionEvent, via: number) => {
    received.push(event);
    state.via.push(via);
    lastId = event.id;
    if (until(event, received)) finished = true;
  };
  /** What the log holds now, through `events.list`, taken as received; returns their ids. */
  const backfill = async (): Promise<Set<string>> => {
    const listed = new Set<string>();
    let page: string | null = null;
    do {
      const query = new URLSearchParams({ limit: '100', ...(page ? { page } : {}) });
      const response = await fetch(`${apiUrl}/v1/sessions/${sessionId}/events?${query}`, { headers: baseHeaders, signal: controller.signal });
      if (!response.ok) throw new Error(`events.list answered ${response.status}`);
      const body = (await response.json()) as { data: SessionEvent[]; next_page: string | null };
      for (const event of body.data) {
        state.backfilled += 1;
        listed.add(event.id);
        if (!finished) take(event, 0);
      }
      page = body.next_page;
    } while (page);
    return listed;
  };

  const connectOnce = async (): Promise<'done' | 'again'> => {
    // A connection cut before its first event leaves no id to resume from. The catch-up is
    // read once the new stream is open (live from then on), so nothing falls between the
    // two; the stream's copies of what the list gave are skipped.
    const catchUp = state.connections > 0 && lastId === undefined;
    const connection = ++state.connections;
    const headers: Record<string, string> = { ...baseHeaders, accept: 'text/event-stream' };
    if (lastId) headers['last-event-id'] = lastId;
    const response = await fetch(`${apiUrl}/v1/sessions/${sessionId}/events/stream`, { headers, signal: controller.signal });
    if (!response.ok || !response.body) {
      breaks.push(`HTTP ${response.status}`);
      await response.body?.cancel();
      return 'again';
    }
    onConnected();
    let listed = new Set<string>();
    if (catchUp) {
      try {
        listed = await backfill();
      } catch (error) {
        await response.body.cancel().catch(() => undefined);
        throw error;
      }
    }
    if (finished) {
      controller.abort();
      return 'done';
    }
    const parser = createParser({
      onEvent: (message) => {
        if (finished) return;
        if (message.event === 'error') {
          breaks.push(`error event: ${message.data.slice(0, 200)}`);
          return;
        }
        if (!message.id || listed.has(message.id)) return; // previews and keepalives carry no id
        take(JSON.parse(message.data) as SessionEvent, connection);
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of response.body) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (finished) {
        controller.abort();
        return 'done';
      }
    }
    breaks.push('stream ended');
    return 'again';
  };

  state.done = (async () => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (Date.now() > deadline) {
        controller.abort();
        throw new Error(`${sessionId}: not finished within ${timeoutMs} ms (${received.length} events, ${state.connections} connections, last breaks: ${breaks.slice(-3).join(' | ')})`);
      }
      try {
        if ((await connectOnce()) === 'done') return;
      } catch (error) {
        if (finished) return;
        if (controller.signal.aborted) throw new Error(`${sessionId}: stream closed before it finished`);
        breaks.push(`cut: ${(error as Error).cause ? String((error as { cause: unknown }).cause) : (error as Error).message}`);
      }
      // Back off as a client would: events keep coming meanwhile, and Last-Event-ID must bring them back.
      await new Promise((r) => setTimeout(r, reconnectDelayMs));
    }
  })();
  return state;
}
