import { nowMs } from './bench-model-script.ts';
import type { SseEngine } from './sse-engine.ts';
import { progress, summarize } from './stats.ts';

/**
 * SSE benchmark (b): `streams` SDK streams open at once on one busy session of one
 * `longhaul serve` process, while `events` events are appended in small bursts
 * every `intervalMs`. Every stream must receive every event exactly once and in
 * order; the report counts what was lost, duplicated or out of order, and the
 * append → delivery latency over every (stream, event) pair.
 */
export async function measureSseFanout({ engine, sessionId, streams, events, intervalMs }: { engine: SseEngine; sessionId: string; streams: number; events: number; intervalMs: number }) {
  progress(`sse fan-out: opening ${streams} streams`);
  const opened = await Promise.all(Array.from({ length: streams }, () => engine.client.beta.sessions.events.stream(sessionId)));
  const appendedAt = new Map<string, number>();
  const expected: string[] = [];
  const received = opened.map(() => [] as { marker: string; atMs: number }[]);
  let remaining = streams * events;
  let allIn: () => void = () => {};
  const done = new Promise<void>((resolve) => (allIn = resolve));
  const readers = opened.map(async (stream, index) => {
    for await (const event of stream) {
      if (event.type !== 'agent.message' || event.content[0]?.type !== 'text') continue;
      received[index]!.push({ marker: event.content[0].text, atMs: nowMs() });
      if (--remaining === 0) allIn();
    }
  });

  progress(`sse fan-out: appending ${events} events in bursts of 1-3 every ${intervalMs} ms`);
  const appendStartedMs = nowMs();
  for (let next = 0; next < events; ) {
    const burst = Math.min(events - next, 1 + (next % 3));
    const markers = Array.from({ length: burst }, (_, k) => `b${next + k}`);
    const started = nowMs();
    for (const marker of markers) appendedAt.set(marker, started);
    expected.push(...markers);
    await engine.store.append(
      sessionId,
      markers.map((marker) => ({ key: marker, event: { type: 'agent.message', content: [{ type: 'text', text: marker }] } })),
    );
    next += burst;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const appendSeconds = (nowMs() - appendStartedMs) / 1000;
  const timedOut = await Promise.race([done.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 15_000))]);
  for (const stream of opened) stream.controller.abort();
  await Promise.allSettled(readers);

  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let complete = 0;
  const latencies: number[] = [];
  for (const list of received) {
    const markers = list.map((r) => r.marker);
    const unique = new Set(markers);
    duplicated += markers.length - unique.size;
    lost += expected.filter((m) => !unique.has(m)).length;
    if (markers.join(',') !== expected.filter((m) => unique.has(m)).join(',') && markers.length === unique.size) outOfOrder += 1;
    if (markers.length === expected.length && markers.every((m, i) => m === expected[i])) complete += 1;
    for (const { marker, atMs } of list) latencies.push(atMs - appendedAt.get(marker)!);
  }
  return {
    streams,
    events_appended: expected.length,
    append_rate_events_per_s: Math.round(expected.length / appendSeconds),
    deliveries_expected: streams * expected.length,
    deliveries_received: received.reduce((sum, list) => sum + list.length, 0),
    streams_complete_in_order: complete,
    lost,
    duplicated,
    streams_out_of_order: outOfOrder,
    timed_out_waiting: timedOut,
    every_stream_got_every_event_once: lost === 0 && duplicated === 0 && outOfOrder === 0 && complete === streams,
    append_to_sdk_event: summarize(latencies),
  };
}
