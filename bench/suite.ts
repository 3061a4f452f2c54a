/**
 * The benchmarks that need Temporal, run in a child process of `run.ts`:
 * Temporal's core writes its own log lines to stdout, which must stay JSON only.
 * Sends its results to the parent over IPC.
 */
import { Longhaul } from '../src/client/longhaul.ts';
import { openPostgresDriver } from '../src/store/postgres-driver.ts';
import { SessionStore } from '../src/store/session-store.ts';
import { startHarness, startTestTemporal, type Harness } from '../test/support/harness.ts';
import type { DevServer } from '../src/temporal/dev-server.ts';
import { startPostgres } from '../test/support/postgres.ts';
import type { Sandbox } from '../sandbox/types.ts';
import { BenchModelScript } from './bench-model-script.ts';
import { SUITE_BENCHMARKS, type SuiteBenchmark } from './benchmark-names.ts';
import { CallProbe } from './call-probe.ts';
import { measureColdStart } from './cold-start.ts';
import { measureEventDelivery } from './event-delivery.ts';
import { measureOrchestrationOverhead } from './orchestration-overhead.ts';
import { envInt, progress } from './stats.ts';
import { measureStoreFloor } from './store-floor.ts';
import { measureTemporalFloor } from './temporal-floor.ts';
import { measureSteering } from './steering.ts';
import { measureOutcomeGrading } from './outcome-grading.ts';
import { measureMultiagent } from './multiagent.ts';
import { measureDeploymentFire } from './deployment-fire.ts';
import { measureWebhookDelivery } from './webhook-delivery.ts';
import { measureMemorySync } from './memory-sync.ts';
import { measureSandboxNeighbours } from './sandbox-neighbours.ts';


const DELIVERY_TARGET = 'none yet (recorded for later targets)';
/** Session create → its sandbox usable, when it finds a warm container. */
const TARGET_WARM_USABLE_P50_MS = 100;

export async function runSuite(wanted: (name: SuiteBenchmark) => boolean): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  progress('starting the Temporal dev server and the harness');
  const temporal = await startTestTemporal();
  const script = new BenchModelScript();
  const probe = new CallProbe();
  try {
    await using h = await startHarness({ temporal, script: script.script });
    watch(probe, h);

    if (wanted('orchestration')) {
      results['orchestration_overhead'] = await measureOrchestrationOverhead({
        harness: h,
        script,
        probe,
        steps: envInt('BENCH_STEPS', 100),
        warmupSteps: envInt('BENCH_WARMUP_STEPS', 10),
        floorSamples: envInt('BENCH_FLOOR_SAMPLES', 50),
      });
      results['store_floor'] = await measureStoreFloor({ samples: envInt('BENCH_FLOOR_SAMPLES', 50) * 4 });
    }
    if (wanted('temporal_floor')) {
      results['temporal_floor_empty_activities'] = await measureTemporalFloor({ temporal, client: h.client, steps: envInt('BENCH_NULL_STEPS', 100) });
    }
    if (wanted('cold_start')) {
      const cold = await measureColdStart({ harness: h, script, probe, sessions: envInt('BENCH_COLD_SESSIONS', 10) });
      results['cold_start'] = { ...cold, warm_pool: await measureWarmStart({ temporal, script, sessions: envInt('BENCH_COLD_SESSIONS', 10) }) };
    }
    if (wanted('event_delivery')) {
      const events = envInt('BENCH_DELIVERY_EVENTS', 300);
      const pglite = await measureEventDelivery({ longhaul: h.longhaul, store: h.store, events, driver: 'pglite (in-process, as the harness)' });
      const delivery: Record<string, unknown> = { target: DELIVERY_TARGET, pglite };
      if (process.env['BENCH_POSTGRES'] === '1') delivery['postgres'] = await postgresDelivery(h.client, events);
      results['event_delivery'] = delivery;
    }
    probe.restore();
    await h.sandboxes.close();
    if (wanted('steering')) results['steering'] = await measureSteering({ temporal, turns: envInt('BENCH_STEERING_TURNS', 20) });
    if (wanted('outcomes')) {
      const samples = envInt('BENCH_OUTCOME_SAMPLES', 20);
      // Production stores are PostgreSQL; PGlite runs in the worker's own event loop and slows what shares it.
      await using postgres = await startPostgres();
      results['outcomes'] = { pglite: await measureOutcomeGrading({ temporal, samples }), postgres: await measureOutcomeGrading({ temporal, samples, postgresUrl: postgres.url }) };
    }
    if (wanted('multiagent')) {
      const samples = envInt('BENCH_MULTIAGENT_SAMPLES', 20);
      await using postgres = await startPostgres();
      results['multiagent'] = { pglite: await measureMultiagent({ temporal, samples }), postgres: await measureMultiagent({ temporal, samples, postgresUrl: postgres.url }) };
    }
    if (wanted('deployments')) results['deployments'] = await measureDeploymentFire({ temporal, samples: envInt('BENCH_DEPLOYMENT_SAMPLES', 20) });
    if (wanted('webhooks')) results['webhooks'] = await measureWebhookDelivery({ temporal, samples: envInt('BENCH_WEBHOOK_SAMPLES', 20) });
    if (wanted('memory')) results['memory'] = await measureMemorySync({ temporal, samples: envInt('BENCH_MEMORY_SAMPLES', 20), startSamples: envInt('BENCH_MEMORY_START_SAMPLES', 5) });
    if (wanted('sandbox_neighbours')) results['sandbox_neighbours'] = await measureSandboxNeighbours({ temporal, samples: envInt('BENCH_NEIGHBOUR_SAMPLES', 30), rounds: envInt('BENCH_NEIGHBOUR_ROUNDS', 3) });
  } finally {
    await temporal.stop();
  }
  return results;
}

async function postgresDelivery(client: ConstructorParameters<typeof Longhaul>[0]['client'], events: number): Promise<unknown> {
  await using postgres = await startPostgres();
  const store = await SessionStore.open(await openPostgresDriver({ url: postgres.url }));
  try {
    return await measureEventDelivery({ longhaul: new Longhaul({ client, store }), store, events, driver: 'postgres (local server, fsync off)' });
  } finally {
    await store.close();
  }
}

if (process.send) {
  const wanted = new Set((process.env['BENCH_ONLY'] ?? SUITE_BENCHMARKS.join(',')).split(','));
  const results = await runSuite((name) => wanted.has(name));
  process.send(results, () => process.exit(0));
}

/** Times the harness's store and sandbox calls (each session's sandbox once it is ensured). */
function watch(probe: CallProbe, h: Harness): void {
  probe.wrap(h.store, 'store', ['append', 'findEventByKey', 'findEventById', 'getTranscriptItem', 'readTranscript', 'listEvents']);
  probe.wrap(h.sandboxes, 'sandbox', ['ensure']);
  probe.onResult = (name, result) => {
    if (name !== 'sandbox.ensure') return;
    // Each session's sandbox, once: its tool calls and the liveness ping `ensure` makes.
    const sandbox = result as Sandbox & { isAlive(): Promise<boolean> };
    probe.wrap(sandbox, 'sandbox', ['runTool', 'isAlive'], sandbox.sessionId);
  };
}

/**
 * The cold-start timings again, with a warm pool of two on the worker's sandbox driver, refilled
 * before each session: what `longhaul dev` (a pool of two by default) gives a session that
 * finds a warm container.
 */
async function measureWarmStart({ temporal, script, sessions }: { temporal: DevServer; script: BenchModelScript; sessions: number }) {
  const probe = new CallProbe();
  try {
    await using h = await startHarness({ temporal, script: script.script, warmPoolSize: 2 });
    watch(probe, h);
    h.sandboxes.warmUp();
    const refilled = async () => {
      const deadline = Date.now() + 60_000;
      while (h.sandboxes.warmSandboxes < 2) {
        if (Date.now() > deadline) throw new Error('the warm pool did not refill within 60 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    // The pool's containers go with the driver; the harness removes the sessions' after it.
    const warm = await measureColdStart({ harness: h, script, probe, sessions, label: 'warm', beforeEach: refilled }).finally(() => h.sandboxes.close());
    const usable = warm.create_to_sandbox_usable;
    return {
      target: { create_to_sandbox_usable_p50_ms_max: TARGET_WARM_USABLE_P50_MS },
      meets_target: usable.p50_ms <= TARGET_WARM_USABLE_P50_MS,
      create_to_sandbox_usable: usable,
      create_to_first_tool_result: warm.create_to_first_tool_result,
      create_to_first_model_request: warm.create_to_first_model_request,
    };
  } finally {
    probe.restore();
  }
}
