import { nowMs } from './bench-model-script.ts';
import type { SseEngine } from './sse-engine.ts';
import { progress, summarize } from './stats.ts';

export const SSE_DELIVERY_TARGET_P99_MS = 50;

/**
 * SSE benchmark (a): from a `store.append` call (a worker writing an event) to that
 * event coming out of the official SDK's `events.stream`, through `longhaul serve`
 * over real HTTP (NOTIFY wake-up in the server, page read, SSE frame, SDK parse).
 * One event at a time, so each sample is one full round.
 */
export async function measureSseDelivery({ engine, sessionId, events }: { engine: SseEngine; sessionId: string; events: number }) {
  const stream = await engine.client.beta.sessions.events.stream(sessionId);
  const delivered = new Map<string, number>();
  let wake: (() => void) | undefined;
  const reader = (async () => {
    for await (const event of stream) {
      if (event.type === 'agent.message' && event.content[0]?.type === 'text') delivered.set(event.content[0].text, nowMs());
      wake?.();
    }
  })();
  const samples: number[] = [];
  progress(`sse delivery: ${events} events, one at a time, on one stream`);
  try {
    for (let i = -10; i < events; i++) {
      const marker = `a${i}`;
      const arrived = new Promise<void>((resolve) => {
        wake = () => {
          if (delivered.has(marker)) resolve();
        };
      });
      const started = nowMs();
      await engine.store.append(sessionId, [{ key: marker, event: { type: 'agent.message', content: [{ type: 'text', text: marker }] } }]);
      await arrived;
      // The first rounds warm the server's code paths and connections: not counted.
      if (i >= 0) samples.push(delivered.get(marker)! - started);
    }
  } finally {
    stream.controller.abort();
    await reader.catch(() => {});
  }
  const summary = summarize(samples);
  return { target: { p99_ms_max: SSE_DELIVERY_TARGET_P99_MS }, meets_target: summary.p99_ms <= SSE_DELIVERY_TARGET_P99_MS, append_to_sdk_event: summary };
}
