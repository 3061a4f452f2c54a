import { AgentDefinition } from '../src/schemas/agent.ts';
import type { DevServer } from '../src/temporal/dev-server.ts';
import { text, type ScriptedRequest } from '../src/testing/index.ts';
import { collectEvents, startHarness } from '../test/support/harness.ts';
import { nowMs } from './bench-model-script.ts';
import { progress, summarize } from './stats.ts';

const TARGET_TURN_END_TO_GRADER_P50_MS = 60;
/** The worker's production heartbeat (the test harness uses a faster one). */
const PRODUCTION_HEARTBEAT_MS = 1000;

const isGrader = (request: ScriptedRequest) => JSON.stringify(request.system ?? '').includes('You are the grader');

/**
 * Benchmark: the agent's turn ends → the grader's first model request, on a worker with
 * production settings. The clock starts when the scripted model hands out the agent's
 * last answer of the turn and stops when the grader's request reaches it, so it covers
 * storing the answer, the workflow deciding to grade, the child workflow and its
 * activity starting, and the grader building its request. One outcome per sample, each
 * in a fresh session.
 */
export async function measureOutcomeGrading({ temporal, samples, postgresUrl }: { temporal: DevServer; samples: number; postgresUrl?: string | undefined }) {
  let agentAnsweredMs = 0;
  const latencies: number[] = [];
  const script = (request: ScriptedRequest) => {
    if (isGrader(request)) {
      latencies.push(nowMs() - agentAnsweredMs);
      return { content: [text(JSON.stringify({ result: 'satisfied', explanation: 'ok' }))] };
    }
    agentAnsweredMs = nowMs();
    return { content: [text('done')] };
  };
  await using h = await startHarness({ temporal, script, heartbeatEveryMs: PRODUCTION_HEARTBEAT_MS, ...(postgresUrl ? { postgresUrl } : {}) });
  const agent = AgentDefinition.parse({ name: 'bench', model: 'claude-sonnet-5-5', tools: [] });
  for (let i = -2; i < samples; i++) {
    const session = await h.longhaul.sessions.create({
      agent,
      events: [{ type: 'user.define_outcome', description: 'Say done', rubric: { type: 'text', content: 'It says done' } }],
    });
    await collectEvents(h.longhaul, session.id, (e) => e.type === 'session.status_idle');
    // The first two warm the worker's caches and are not counted.
    if (i < 0) latencies.length = 0;
    else progress(`outcome grading ${i + 1}/${samples}: turn end → grader request ${Math.round(latencies.at(-1) ?? Number.NaN)} ms`);
  }
  const summary = summarize(latencies);
  return {
    store: postgresUrl ? 'postgresql' : 'pglite (in the worker process)',
    worker_heartbeat_ms: PRODUCTION_HEARTBEAT_MS,
    turn_end_to_grader_request: { target_p50_ms_max: TARGET_TURN_END_TO_GRADER_P50_MS, meets_target: summary.p50_ms <= TARGET_TURN_END_TO_GRADER_P50_MS, ...summary },
  };
}
