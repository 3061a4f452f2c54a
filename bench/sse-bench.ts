/**
 * The SSE benchmarks, in their own process (`run.ts` forks it; Temporal's core logs
 * on stdout, so results go back over IPC, or to stdout when run alone):
 *   (a) append → SDK event on one open stream, (b) fan-out to many streams on one
 *   busy session, (c) `sessions.create` → first `agent.*` event.
 *
 * Sizes: BENCH_SSE_EVENTS (200), BENCH_SSE_STREAMS (200), BENCH_SSE_FANOUT_EVENTS (100),
 * BENCH_SSE_FANOUT_INTERVAL_MS (10), BENCH_SSE_SESSIONS (10).
 */
import { BenchModelScript } from './bench-model-script.ts';
import { measureSseDelivery } from './sse-delivery.ts';
import { startSseEngine } from './sse-engine.ts';
import { measureSseFanout } from './sse-fanout.ts';
import { measureSseFirstEvent } from './sse-first-event.ts';
import { envInt, progress } from './stats.ts';

export async function runSseBenchmarks(): Promise<Record<string, unknown>> {
  const script = new BenchModelScript();
  const engine = await startSseEngine({ script });
  try {
    const { client } = engine;
    const environment = await client.beta.environments.create({ name: 'bench-sse' });
    // The streamed session: created through the API (so the server knows it), idle; events are appended as a worker would.
    const agent = await client.beta.agents.create({ name: 'bench-sse', model: 'claude-sonnet-5-5', system: 'bench label=sse-streamed steps=0' });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    const fanoutSession = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    return {
      server: 'longhaul serve (one child process) on PostgreSQL (local server, fsync off), official SDK clients in the bench process',
      delivery: await measureSseDelivery({ engine, sessionId: session.id, events: envInt('BENCH_SSE_EVENTS', 200) }),
      fanout: await measureSseFanout({
        engine,
        sessionId: fanoutSession.id,
        streams: envInt('BENCH_SSE_STREAMS', 200),
        events: envInt('BENCH_SSE_FANOUT_EVENTS', 100),
        intervalMs: envInt('BENCH_SSE_FANOUT_INTERVAL_MS', 10),
      }),
      create_to_first_agent_event: await measureSseFirstEvent({ engine, script, environmentId: environment.id, sessions: envInt('BENCH_SSE_SESSIONS', 10) }),
    };
  } finally {
    progress('sse: stopping');
    await engine.close();
  }
}

if (import.meta.main) {
  const results = await runSseBenchmarks();
  if (process.send) process.send(results, () => process.exit(0));
  else {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    process.exit(0);
  }
}
