import { AgentDefinition, type RosterMember } from '../src/schemas/agent.ts';
import type { DevServer } from '../src/temporal/dev-server.ts';
import { lastToolResults, text, toolUse, type ScriptedRequest } from '../src/testing/index.ts';
import { collectEvents, startHarness } from '../test/support/harness.ts';
import { nowMs } from './bench-model-script.ts';
import { progress, summarize } from './stats.ts';

const TARGET_PARALLEL_WALL_S = 2.6;
const TARGET_DELEGATION_TO_FIRST_REQUEST_P50_MS = 60;
/** The worker's production heartbeat (the test harness uses a faster one). */
const PRODUCTION_HEARTBEAT_MS = 1000;

const toolset = [{ type: 'agent_toolset_20260401' as const }];
const member = (name: string): RosterMember => ({ agent_id: `agent_${name}`, version: 1, name, description: null, self: false, definition: { name, model: 'claude-haiku-5-5', system: `ROLE:${name}`, tools: toolset } });
const roleOf = (request: ScriptedRequest) => /ROLE:(\w+)/.exec(JSON.stringify(request.system ?? ''))?.[1];

/**
 * Benchmarks of multi-agent sessions, on a worker with production settings:
 * - three specialists, each running a 2-second bash call, started by one coordinator
 *   step: the wall time from the coordinator's delegation answer to the last
 *   specialist's report reaching it (parallel threads: about 2 s, not 6);
 * - the coordinator's delegation answer → the specialist's first model request: the
 *   coordinator's step, the child workflow's start and its first model-call activity.
 */
export async function measureMultiagent({ temporal, samples, postgresUrl }: { temporal: DevServer; samples: number; postgresUrl?: string | undefined }) {
  const names = ['alpha', 'beta', 'gamma'];
  let delegatedMs = 0;
  let mode: 'parallel' | 'latency' = 'parallel';
  const firstRequests: number[] = [];
  let reportsAllInMs = 0;
  const script = (request: ScriptedRequest) => {
    const role = roleOf(request);
    if (role === undefined) {
      const reports = JSON.stringify(request.messages).match(/Message from thread/g)?.length ?? 0;
      if (reports === 0 && lastToolResults(request).length === 0) {
        delegatedMs = nowMs();
        const who = mode === 'parallel' ? names : names.slice(0, 1);
        return { content: who.map((name) => toolUse('delegate_to_agent', { agent: name, message: 'work' })) };
      }
      if (reports >= (mode === 'parallel' ? names.length : 1)) reportsAllInMs = nowMs();
      return { content: [text('noted')] };
    }
    if (lastToolResults(request).length === 0) {
      firstRequests.push(nowMs() - delegatedMs);
      return { content: [toolUse('bash', { command: mode === 'parallel' ? 'sleep 2' : 'true' })] };
    }
    return { content: [text(`${role} done`)] };
  };
  await using h = await startHarness({ temporal, script, heartbeatEveryMs: PRODUCTION_HEARTBEAT_MS, ...(postgresUrl ? { postgresUrl } : {}) });
  const agent = AgentDefinition.parse({ name: 'coordinator', model: 'claude-sonnet-5-5', tools: toolset, roster: names.map(member) });
  const run = async () => {
    const session = await h.longhaul.sessions.create({ agent, events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }] });
    await collectEvents(h.longhaul, session.id, (e) => e.type === 'session.status_idle');
  };

  const walls: number[] = [];
  for (let i = -1; i < Math.max(3, Math.round(samples / 4)); i++) {
    await run();
    if (i >= 0) {
      walls.push((reportsAllInMs - delegatedMs) / 1000);
      progress(`multiagent: three 2-second specialists in ${walls.at(-1)!.toFixed(2)} s`);
    }
  }
  mode = 'latency';
  firstRequests.length = 0;
  for (let i = -2; i < samples; i++) {
    await run();
    if (i < 0) firstRequests.length = 0;
    else progress(`multiagent ${i + 1}/${samples}: delegation → specialist request ${Math.round(firstRequests.at(-1) ?? Number.NaN)} ms`);
  }
  const wall = summarize(walls.map((s) => s * 1000));
  const latency = summarize(firstRequests);
  return {
    store: postgresUrl ? 'postgresql' : 'pglite (in the worker process)',
    worker_heartbeat_ms: PRODUCTION_HEARTBEAT_MS,
    three_2s_specialists_wall_s: { target_max_s: TARGET_PARALLEL_WALL_S, meets_target: wall.p50_ms / 1000 <= TARGET_PARALLEL_WALL_S, p50_s: wall.p50_ms / 1000, max_s: wall.max_ms / 1000, samples: walls.length },
    delegation_to_specialist_request: { target_p50_ms_max: TARGET_DELEGATION_TO_FIRST_REQUEST_P50_MS, meets_target: latency.p50_ms <= TARGET_DELEGATION_TO_FIRST_REQUEST_P50_MS, ...latency },
  };
}
