/**
 * Writes a built `Message` to the wire: as one JSON body, or as a server-sent event
 * stream that may be cut short by a scripted fault.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BetaMessage } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { type ApiRequestError, errorEnvelope } from './api-errors.ts';
import { encodeSseEvent, messageStreamEvents, type StreamEvent } from './messages-sse.ts';

/** A non-streaming answer. */
export function sendMessage(response: ServerResponse, message: BetaMessage, requestId: string): void {
  response.writeHead(200, { 'content-type': 'application/json', 'request-id': requestId });
  response.end(JSON.stringify(message));
}

/** How a stream breaks off: after `afterEvents` stream events (pings not counted), then `then`. */
export type StreamInterruption = {
  afterEvents: number;
  /** `disconnect` destroys the socket; `stall` goes silent; an error is sent as `event: error`. */
  then: 'disconnect' | 'stall' | ApiRequestError;
};

export type StreamMessageOptions = {
  message: BetaMessage;
  requestId: string;
  /** Pause between events. */
  eventDelayMs: number;
  /** Aborts when the client leaves or the server closes; the stream then stops quietly. */
  signal: AbortSignal;
  interruption?: StreamInterruption | undefined;
  /** Called with each event once it is handed to the socket. */
  onSent?: ((event: StreamEvent) => void) | undefined;
};

/** Streams `message` as SSE, or part of it when `interruption` is given. */
export async function streamMessage(
  response: ServerResponse,
  { message, requestId, eventDelayMs, signal, interruption, onSent }: StreamMessageOptions,
): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': requestId });
  response.flushHeaders();
  const events = messageStreamEvents(message);
  const streamEventCount = events.filter((event) => event.type !== 'ping').length;
  // An interrupted stream never reaches message_stop, whatever afterEvents says.
  const stopAfter = interruption === undefined ? Infinity : Math.min(interruption.afterEvents, streamEventCount - 1);
  let sent = 0;
  for (const event of events) {
    if (event.type !== 'ping') {
      if (sent >= stopAfter) break;
      sent++;
    }
    if (sent > 1 && eventDelayMs > 0) await sleep(eventDelayMs, undefined, { signal });
    if (signal.aborted || response.destroyed) return;
    await write(response, encodeSseEvent(event));
    onSent?.(event);
  }
  if (interruption === undefined) {
    response.end();
  } else if (interruption.then === 'disconnect') {
    response.destroy();
  } else if (interruption.then !== 'stall') {
    response.end(`event: error\ndata: ${JSON.stringify(errorEnvelope(interruption.then, requestId))}\n\n`);
  }
  // A stall leaves the response open: the client waits until it gives up or the server closes.
}

/** Resolves once `chunk` is handed to the socket, so a following destroy cannot drop it. */
function write(response: ServerResponse, chunk: string): Promise<void> {
  return new Promise((resolve) => {
    response.write(chunk, () => resolve());
  });
}
