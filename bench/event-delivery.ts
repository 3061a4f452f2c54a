import type { Longhaul } from '../src/client/longhaul.ts';
import { newId } from '../src/store/ids.ts';
import type { SessionStore } from '../src/store/session-store.ts';
import { nowMs } from './bench-model-script.ts';
import { progress, summarize } from './stats.ts';

/**
 * Benchmark 4: from a `store.append` call to the event coming out of a live
 * `events.stream` reader (LISTEN/NOTIFY wake-up, then a page read). One event
 * at a time, so each sample is a full append → delivery round.
 */
export async function measureEventDelivery({ longhaul, store, events, driver }: { longhaul: Longhaul; store: SessionStore; events: number; driver: string }) {
  const sessionId = newId('sesn');
  const controller = new AbortController();
  const delivered = new Map<string, number>();
  let wake: (() => void) | undefined;
  const reader = (async () => {
    for await (const event of longhaul.events.stream(sessionId, { signal: controller.signal })) {
      delivered.set(event.type === 'agent.message' ? (event.content[0]?.type === 'text' ? event.content[0].text : '') : event.type, nowMs());
      wake?.();
    }
  })();
  const appendToDelivery: number[] = [];
  const appendCall: number[] = [];
  const appendReturnToDelivery: number[] = [];
  progress(`event delivery (${driver}): ${events} events`);
  try {
    // The reader's first page read is not a live delivery: let it settle first.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = -5; i < events; i++) {
      const marker = `m${i}`;
      const arrived = new Promise<void>((resolve) => {
        wake = () => {
          if (delivered.has(marker)) resolve();
        };
      });
      const started = nowMs();
      await store.append(sessionId, [{ key: marker, event: { type: 'agent.message', content: [{ type: 'text', text: marker }] } }]);
      const returned = nowMs();
      await arrived;
      if (i < 0) continue;
      const at = delivered.get(marker)!;
      appendToDelivery.push(at - started);
      appendCall.push(returned - started);
      appendReturnToDelivery.push(at - returned);
    }
  } finally {
    controller.abort();
    await reader.catch(() => {});
  }
  return {
    driver,
    append_to_delivered: summarize(appendToDelivery),
    append_call: summarize(appendCall),
    append_returned_to_delivered: summarize(appendReturnToDelivery),
  };
}
