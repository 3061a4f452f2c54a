import { AgentCreateParams, agentSpecFromCreate } from '../src/schemas/api-agent.ts';
import { openApiStores } from '../src/store/open-api-stores.ts';
import { openPgliteDriver } from '../src/store/pglite-driver.ts';
import type { DevServer } from '../src/temporal/dev-server.ts';
import { text } from '../src/testing/index.ts';
import { startHarness } from '../test/support/harness.ts';
import { scheduleIdOf } from '../src/deployments/deployment-schedules.ts';
import { nowMs } from './bench-model-script.ts';
import { progress, summarize } from './stats.ts';

const TARGET_FIRE_TO_FIRST_REQUEST_P50_MS = 500;
/** The worker's production heartbeat (the test harness uses a faster one). */
const PRODUCTION_HEARTBEAT_MS = 1000;

/**
 * Benchmark: a deployment's Schedule fires → its run's first model request. The clock
 * starts just before the Schedule is triggered (a fire "now", which Temporal handles as
 * it does a cron time coming due) and stops when the run's session's first request
 * reaches the scripted model: the Schedule starting the run workflow, the run activity
 * creating the session through the API's session code, the session workflow starting
 * and its first model call. Each sample waits for the previous run to settle (the
 * overlap policy skips a fire while a run is working).
 */
export async function measureDeploymentFire({ temporal, samples }: { temporal: DevServer; samples: number }) {
  let firedMs = 0;
  const latencies: number[] = [];
  const script = () => {
    latencies.push(nowMs() - firedMs);
    return { content: [text('done')] };
  };
  const driver = await openPgliteDriver();
  const stores = await openApiStores(driver);
  try {
    await using h = await startHarness({ temporal, script, heartbeatEveryMs: PRODUCTION_HEARTBEAT_MS, apiStores: stores });
    const service = h.deployments!;
    const agent = await stores.agents.create(agentSpecFromCreate(AgentCreateParams.parse({ name: 'bench', model: 'claude-sonnet-5-5' })));
    const environment = await stores.environments.create({ name: 'bench' });
    const deployment = await service.create({
      name: 'bench',
      agent: agent.id,
      environment_id: environment.id,
      initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }],
      // Far from now: only the triggers fire.
      schedule: { type: 'cron', expression: '0 0 1 1 *', timezone: 'UTC' },
    });
    const schedule = h.client.schedule.getHandle(scheduleIdOf(deployment.id));
    for (let i = -2; i < samples; i++) {
      const before = latencies.length;
      // Temporal names each fire's workflow by its time to the second: one fire per second.
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
      firedMs = nowMs();
      await service.schedules.trigger(deployment.id);
      const deadline = Date.now() + 30_000;
      while (latencies.length === before) {
        if (Date.now() > deadline) {
          const { data } = await service.listRuns({ limit: 1, deploymentId: deployment.id });
          const events = data[0]?.session_id ? await h.store.listEvents(data[0].session_id, { limit: 100 }) : [];
          throw new Error(`no model request 30 s after the fire; last run: ${JSON.stringify(data[0] ?? null)}; its session's events: ${JSON.stringify(events.map((e) => e.event))}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // The run's workflow lasts until its session settles: wait for it, or the next fire is skipped.
      while ((await schedule.describe()).info.runningActions.length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      // The first two warm the worker's caches and are not counted.
      if (i < 0) latencies.length = 0;
      else progress(`deployment fire ${i + 1}/${samples}: fire → first model request ${Math.round(latencies.at(-1) ?? Number.NaN)} ms`);
    }
  } finally {
    await driver.close();
  }
  const summary = summarize(latencies);
  return {
    store: 'pglite (in the worker process)',
    worker_heartbeat_ms: PRODUCTION_HEARTBEAT_MS,
    fire: 'schedule trigger (a fire now); a cron time coming due takes the same path',
    fire_to_first_model_request: { target_p50_ms_max: TARGET_FIRE_TO_FIRST_REQUEST_P50_MS, meets_target: summary.p50_ms <= TARGET_FIRE_TO_FIRST_REQUEST_P50_MS, ...summary },
  };
}
