import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentDefinition } from '../src/schemas/agent.ts';
import { SecretBox } from '../src/secrets/secret-box.ts';
import { openApiStores } from '../src/store/open-api-stores.ts';
import { openPgliteDriver } from '../src/store/pglite-driver.ts';
import type { DevServer } from '../src/temporal/dev-server.ts';
import { text } from '../src/testing/index.ts';
import { collectEvents, startHarness } from '../test/support/harness.ts';
import { progress, summarize } from './stats.ts';

const TARGET_EVENT_TO_DELIVERY_P50_MS = 100;
/** The worker's production heartbeat (the test harness uses a faster one). */
const PRODUCTION_HEARTBEAT_MS = 1000;

/**
 * Benchmark: a session event is written → its webhook reaches a local receiver. The
 * clock starts at the event's `processed_at` (when the worker wrote `session.status_idle`)
 * and stops when the receiver has the signed `session.idled` delivery: the publish in
 * the writing activity, the delivery workflow starting, its activity signing and posting.
 */
export async function measureWebhookDelivery({ temporal, samples }: { temporal: DevServer; samples: number }) {
  const arrivals = new Map<string, number>();
  const receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const arrived = Date.now();
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { id: string } };
      arrivals.set(event.data.id, arrived);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const driver = await openPgliteDriver();
  const stores = await openApiStores(driver, { secretBox: SecretBox.fromBase64(SecretBox.generateKey()) });
  const latencies: number[] = [];
  try {
    await using h = await startHarness({ temporal, script: () => ({ content: [text('done')] }), heartbeatEveryMs: PRODUCTION_HEARTBEAT_MS, apiStores: stores });
    await stores.webhooks.create({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, event_types: ['session.idled'] });
    const agent = AgentDefinition.parse({ name: 'bench', model: 'claude-sonnet-5-5', tools: [] });
    for (let i = -2; i < samples; i++) {
      const session = await h.longhaul.sessions.create({ agent, events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }] });
      const events = await collectEvents(h.longhaul, session.id, (e) => e.type === 'session.status_idle');
      const idleAt = Date.parse(events.at(-1)!.processed_at ?? '');
      const deadline = Date.now() + 30_000;
      while (!arrivals.has(session.id)) {
        if (Date.now() > deadline) throw new Error(`no webhook for ${session.id} within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      // The first two warm the worker's caches and are not counted.
      if (i < 0) continue;
      latencies.push(arrivals.get(session.id)! - idleAt);
      progress(`webhook delivery ${i + 1}/${samples}: session.status_idle written → session.idled received ${latencies.at(-1)} ms`);
    }
  } finally {
    await driver.close();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
  const summary = summarize(latencies);
  return {
    store: 'pglite (in the worker process)',
    worker_heartbeat_ms: PRODUCTION_HEARTBEAT_MS,
    clock: 'wall clock, milliseconds: processed_at of the event → arrival at the receiver',
    event_to_webhook_delivered: { target_p50_ms_max: TARGET_EVENT_TO_DELIVERY_P50_MS, meets_target: summary.p50_ms <= TARGET_EVENT_TO_DELIVERY_P50_MS, ...summary },
  };
}
