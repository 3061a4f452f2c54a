/**
 * Chaos on the production topology: a real Temporal server and PostgreSQL, two `longhaul
 * serve` behind a balancer, three `longhaul worker` processes. Sessions of four kinds
 * (plain steps, approvals, a specialist, a graded outcome) work through the official SDK
 * while workers and API servers are killed -9 and restarted, Temporal and PostgreSQL
 * restart and sandbox containers are killed. Then every session is checked: the right
 * final state, a gapless log without repeats, each tool run at most once (exactly once
 * unless its container died under it), and each SSE follower, reconnecting with
 * `Last-Event-ID` through the balancer, saw every event exactly once.
 *
 * Sizes (the short run is the default; `npm run chaos` sets the long one):
 *   LONGHAUL_CHAOS_SESSIONS     sessions in all (50)
 *   LONGHAUL_CHAOS_CONCURRENCY  sessions at once (all of them)
 *   LONGHAUL_CHAOS_STEPS        bash steps per session (4)
 *   LONGHAUL_CHAOS_EVERY_MS     one fault every so often (5000)
 *   LONGHAUL_CHAOS_SEED         the faults' random choices (fixed)
 *   LONGHAUL_CHAOS_SESSION_TIMEOUT_MS  how long one session may take (8 minutes)
 *   LONGHAUL_CHAOS_REPORT       also write the JSON report to this file
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { openEngineStore } from '../../src/cli/open-engine-store.ts';
import { ScriptedModelServer } from '../../src/testing/index.ts';
import { DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';
import { agentFor, chaosScript, createChaosAgents, EFFECTS_FILE, isFinished, KIND_CYCLE, kickOff, markerInCommand, type ChaosKind } from '../support/chaos-workload.ts';
import { seededRandom, startChaosMonkey, type ChaosLogEntry } from '../support/chaos-monkey.ts';
import { sessionLog, type LoggedEvent } from '../api/session-log.ts';
import { assertGaplessLog, bashInSandbox } from '../support/harness.ts';
import { startProductionTopology, type ProductionTopology } from '../support/production-topology.ts';
import { followSessionStream, type FollowedStream } from '../support/sse-follower.ts';

const envNumber = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};
const SESSIONS = envNumber('LONGHAUL_CHAOS_SESSIONS', 50);
const CONCURRENCY = Math.min(SESSIONS, envNumber('LONGHAUL_CHAOS_CONCURRENCY', SESSIONS));
const STEPS = envNumber('LONGHAUL_CHAOS_STEPS', 4);
const EVERY_MS = envNumber('LONGHAUL_CHAOS_EVERY_MS', 5000);
const SEED = envNumber('LONGHAUL_CHAOS_SEED', 20261204);
const SESSION_TIMEOUT_MS = envNumber('LONGHAUL_CHAOS_SESSION_TIMEOUT_MS', 8 * 60_000);

let model: ScriptedModelServer;
let topology: ProductionTopology;
const sessionIds: string[] = [];

before(async () => {
  model = await ScriptedModelServer.start({ script: chaosScript(1) });
  topology = await startProductionTopology({ serves: 2, workers: 3, modelUrl: model.url });
});

after(async () => {
  await topology?.stop(sessionIds);
  await model?.close();
});

type Run = { tag: string; kind: ChaosKind; id: string; stream: FollowedStream; approvalsSent: number; ended: boolean };

const isRetryable = (error: unknown) => error instanceof Anthropic.APIConnectionError || (error instanceof Anthropic.APIError && (error.status ?? 0) >= 500);

test(`chaos: ${SESSIONS} sessions on 2 serve + 3 worker processes, a real Temporal server and PostgreSQL, while every part of it is killed`, { timeout: 60 * 60_000 }, async () => {
  const startedAt = Date.now();
  // Reads retry (a GET is safe to repeat); sends do not: the SDK would repeat one the server
  // already took before the cut. `sendOnce` looks in the log before sending again instead.
  const client = new Anthropic({ baseURL: topology.apiUrl, apiKey: topology.apiKey, maxRetries: 10 });
  const sendOnly = new Anthropic({ baseURL: topology.apiUrl, apiKey: topology.apiKey, maxRetries: 0 });
  const agents = await createChaosAgents(client);

  const sendOnce = async (sessionId: string, event: Anthropic.Beta.Sessions.EventSendParams['events'][number], landed: (e: LoggedEvent) => boolean) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await sendOnly.beta.sessions.events.send(sessionId, { events: [event] });
        return;
      } catch (error) {
        if (!isRetryable(error) || attempt >= 30) throw error;
      }
      await new Promise((r) => setTimeout(r, 500));
      if ((await sessionLog(client, sessionId)).some(landed)) return;
    }
  };

  const random = seededRandom(SEED);
  const runs: Run[] = [];
  const monkey = startChaosMonkey({ topology, sessionIds: () => sessionIds, everyMs: EVERY_MS, random });

  const runSession = async (index: number): Promise<void> => {
    const kind = KIND_CYCLE[index % KIND_CYCLE.length]!;
    const tag = `c${index}`;
    const session = await client.beta.sessions.create({ agent: agentFor(agents, kind), environment_id: agents.environment, title: tag });
    sessionIds.push(session.id);
    const approved = new Set<string>();
    const run: Run = { tag, kind, id: session.id, approvalsSent: 0, ended: false, stream: undefined as never };
    const finished = isFinished(kind, tag);
    run.stream = followSessionStream({
      apiUrl: topology.apiUrl,
      apiKey: topology.apiKey,
      sessionId: session.id,
      timeoutMs: SESSION_TIMEOUT_MS,
      until: (event, received) => {
        if (event.type === 'session.status_idle' && event.stop_reason?.type === 'requires_action') {
          // Approve a little later, so approvals stay pending while faults happen.
          for (const id of event.stop_reason.event_ids.filter((id) => !approved.has(id))) {
            approved.add(id);
            setTimeout(() => {
              run.approvalsSent += 1;
              void sendOnce(session.id, { type: 'user.tool_confirmation', tool_use_id: id, result: 'allow' }, (e) => e.type === 'user.tool_confirmation' && e.tool_use_id === id).catch((error) =>
                console.error(`${tag}: approval of ${id} failed: ${String(error)}`),
              );
            }, 1000 + random() * 3000);
          }
        }
        return finished(event, received);
      },
    });
    runs.push(run);
    await run.stream.connected;
    const first = kickOff(kind, tag, STEPS);
    await sendOnce(session.id, first, (e) => e.type === first.type);
    try {
      await run.stream.done;
    } finally {
      run.ended = true;
    }
  };

  let next = 0;
  let ended = 0;
  const failures: string[] = [];
  // Progress in the test's output every 30 s, and a handle that keeps the loop alive: a
  // follower waiting for an event that never comes fails at its deadline, not silently.
  const progress = setInterval(() => {
    const waiting = runs.filter((r) => !r.ended).map((r) => `${r.tag}:${r.stream.received.at(-1)?.type ?? '-'}`);
    console.log(`chaos: ${ended}/${SESSIONS} ended after ${Math.round((Date.now() - startedAt) / 1000)} s; waiting on ${waiting.slice(0, 8).join(' ')}${waiting.length > 8 ? ' …' : ''}`);
  }, 30_000);
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < SESSIONS) {
          const index = next++;
          await runSession(index).catch((error: Error) => failures.push(`c${index}: ${error.message}`));
          ended += 1;
        }
      }),
    );
  } finally {
    clearInterval(progress);
    for (const run of runs) run.stream.close();
  }
  const workedMs = Date.now() - startedAt;
  const faults = await monkey.stop();

  // Every session, from the store and the sandbox, against what its follower saw.
  const { store } = await openEngineStore({ databaseUrl: topology.databaseUrl });
  const sandboxes = new DockerSandboxDriver({ dataDir: topology.sandboxDir });
  const counts = { events: 0, threadEvents: 0, toolCalls: 0, toolRunsSeen: 0, interrupted: 0, toolErrors: 0, sseConnections: 0, reconnects: 0, backfilled: 0, approvals: 0, rescheduled: 0 };
  try {
    for (const run of runs) {
      const fail = (what: string) => failures.push(`${run.tag} (${run.kind}, ${run.id}): ${what}`);
      try {
        const log = await assertGaplessLog(store, run.id);
        counts.events += log.length;
        counts.rescheduled += log.filter((e) => e.type === 'session.status_rescheduled').length;
        const retrieved = await client.beta.sessions.retrieve(run.id);
        if (retrieved.status !== 'idle') fail(`status ${retrieved.status}, not idle`);
        const last = log.filter((e) => e.type === 'session.status_idle').at(-1);
        if (!last || last.type !== 'session.status_idle' || last.stop_reason?.type !== 'end_turn') fail(`last idle is ${JSON.stringify(last?.type === 'session.status_idle' ? last.stop_reason : last?.type)}`);
        if (run.kind === 'graded') {
          const ends = log.filter((e) => e.type === 'span.outcome_evaluation_end');
          if (ends.length !== 1 || ends[0]?.type !== 'span.outcome_evaluation_end' || ends[0].result !== 'satisfied') fail(`outcome ends: ${JSON.stringify(ends.map((e) => e.type === 'span.outcome_evaluation_end' && e.result))}`);
        }

        // The follower saw each event from its first on exactly once, in log order, and its first came before the task
        // (a follower cut off before its first event caught up through events.list: `backfilled`).
        const seen = run.stream.received.map((e) => e.id);
        const from = log.findIndex((e) => e.id === seen[0]);
        const firstUser = log.findIndex((e) => e.type === 'user.message' || e.type === 'user.define_outcome');
        const story = () =>
          `; log starts ${log.slice(0, 4).map((e) => e.type).join(', ')}; received ${run.stream.received.slice(0, 4).map((e, i) => `${e.type} via ${run.stream.via[i]}`).join(', ')}; breaks: ${run.stream.breaks.join(' | ')}`;
        if (from < 0 || from > firstUser) fail(`the stream began at log position ${from}, after the task at ${firstUser}${story()}`);
        const expected = log.slice(from, from + seen.length).map((e) => e.id);
        if (JSON.stringify(seen) !== JSON.stringify(expected)) fail(`the stream saw ${seen.length} events, not the log's ${expected.length} in order (duplicates: ${seen.length - new Set(seen).size})${story()}`);
        counts.sseConnections += run.stream.connections;
        counts.reconnects += run.stream.connections - 1;
        counts.backfilled += run.stream.backfilled;
        counts.approvals += run.approvalsSent;

        // Tool calls: in the session and its threads, each answered once, each side effect there at most once.
        const logs = [log];
        for (const thread of await store.threads.list(run.id)) {
          const threadLog = await assertGaplessLog(store, thread.id);
          counts.threadEvents += threadLog.length;
          logs.push(threadLog);
        }
        const bashCalls = logs.flat().filter((e) => e.type === 'agent.tool_use' && e.name === 'bash');
        if (bashCalls.length !== STEPS) fail(`${bashCalls.length} bash calls, not ${STEPS}`);
        const effects = (await bashInSandbox({ sandboxes }, run.id, `cat ${EFFECTS_FILE}`)).trim().split('\n').filter(Boolean);
        const markers = new Set<string>();
        for (const call of bashCalls) {
          if (call.type !== 'agent.tool_use') continue;
          counts.toolCalls += 1;
          const marker = markerInCommand(String(call.input['command']));
          if (!marker) {
            fail(`a bash call without a marker: ${JSON.stringify(call.input)}`);
            continue;
          }
          markers.add(marker);
          const results = logs.flat().filter((e) => e.type === 'agent.tool_result' && e.tool_use_id === call.id);
          if (results.length !== 1) fail(`${marker}: ${results.length} results`);
          const result = results[0];
          const failed = result?.type === 'agent.tool_result' && result.is_error === true;
          const interrupted = failed && JSON.stringify(result.content).includes('interrupted');
          const ran = effects.filter((line) => line === marker).length;
          counts.toolRunsSeen += ran;
          if (interrupted) counts.interrupted += 1;
          else if (failed) counts.toolErrors += 1;
          // A call cut off by a dead container may or may not have left its line; one that succeeded must have.
          if (ran > 1 || (ran === 0 && !failed)) fail(`${marker} ran ${ran} times; its result: ${JSON.stringify(result?.type === 'agent.tool_result' ? result.content : result).slice(0, 300)}`);
        }
        const strays = effects.filter((line) => !markers.has(line));
        if (strays.length > 0) fail(`side effects no call in the log accounts for: ${strays.join(', ')}`);
      } catch (error) {
        fail((error as Error).message);
      }
    }
  } finally {
    await sandboxes.close();
    await store.close();
  }

  const report = {
    sessions: SESSIONS,
    concurrency: CONCURRENCY,
    steps: STEPS,
    seed: SEED,
    kinds: Object.fromEntries(KIND_CYCLE.map((kind) => [kind, runs.filter((r) => r.kind === kind).length])),
    finished: runs.length - new Set(failures.map((f) => f.split(' ')[0])).size,
    workedSeconds: Math.round(workedMs / 100) / 10,
    faults: tally(faults),
    faultLog: faults,
    processStarts: Object.fromEntries([...topology.serves, ...topology.workers].map((s) => [s.name, s.starts])),
    balancerConnections: Object.fromEntries(topology.balancer.connections),
    modelCalls: model.calls.length,
    ...counts,
    failures,
  };
  console.log(`chaos report: ${JSON.stringify(report, null, 2)}`);
  if (process.env['LONGHAUL_CHAOS_REPORT']) writeFileSync(process.env['LONGHAUL_CHAOS_REPORT'], `${JSON.stringify(report, null, 2)}\n`);

  assert.deepEqual(failures, []);
  // The run did break things: each kind of fault happened.
  for (const action of ['kill worker', 'kill serve', 'restart temporal', 'restart postgres', 'kill sandbox'] as const) {
    assert.ok(faults.some((f) => f.action === action), `no "${action}" happened: the run was too short for its fault interval`);
  }
  assert.ok(counts.reconnects > 0, 'some stream had to reconnect');
});

function tally(faults: ChaosLogEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const fault of faults) counts[fault.action] = (counts[fault.action] ?? 0) + 1;
  return counts;
}
