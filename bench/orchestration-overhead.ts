import Anthropic from '@anthropic-ai/sdk';
import type { MessageCreateParamsStreaming } from '@anthropic-ai/sdk/resources/messages';
import { newId } from '../src/store/ids.ts';
import { AgentDefinition } from '../src/schemas/agent.ts';
import { EnvironmentDefinition } from '../src/schemas/environment.ts';
import type { Harness } from '../test/support/harness.ts';
import { benchSystemPrompt, nowMs, type BenchModelScript } from './bench-model-script.ts';
import { totalsByName, type CallProbe } from './call-probe.ts';
import { runInProcessLoop } from './in-process-loop.ts';
import { progress, round, summarize, type Summary } from './stats.ts';
import { activityHandoffs, historyTimeline, type GapStats, type HistoryTimeline } from './workflow-history.ts';

const TARGET_OVERHEAD_MS = 20;
const HEARTBEAT_EVERY_MS = 200; // what the harness gives its worker

type LoopResult = { label: string; sessionId: string; startedMs: number; endedMs: number; arrivals: readonly number[] };

export type OrchestrationOptions = {
  harness: Harness;
  script: BenchModelScript;
  probe: CallProbe;
  steps: number;
  warmupSteps: number;
  floorSamples: number;
};

const agentFor = (label: string, steps: number) =>
  AgentDefinition.parse({ name: 'bench', model: 'claude-sonnet-5-5', system: benchSystemPrompt({ label, steps }), tools: [{ type: 'agent_toolset_20260401' }] });
const environment = EnvironmentDefinition.parse({});

/**
 * Benchmark 1: wall time per step of a session whose model asks for one
 * `bash true` per step, through real Temporal, store and sandbox, against the
 * same loop in-process without Temporal, minus the measured floors of a bare
 * model call (the same requests replayed through the SDK) and a bare sandbox call.
 */
export async function measureOrchestrationOverhead({ harness: h, script, probe, steps, warmupSteps, floorSamples }: OrchestrationOptions) {
  const anthropic = new Anthropic({ baseURL: h.model.url, apiKey: 'bench-key', maxRetries: 0 });
  const cleanup: string[] = [];

  const runTemporal = async (label: string, n: number): Promise<LoopResult> => {
    const startedMs = nowMs();
    const session = await h.longhaul.sessions.create({
      agent: agentFor(label, n),
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }],
    });
    cleanup.push(session.id);
    // No live reader while the steps run: its page reads would share PGlite with the worker.
    await script.waitForArrival(label, n + 1);
    await waitForIdle(h, session.id, 60_000);
    return { label, sessionId: session.id, startedMs, endedMs: nowMs(), arrivals: script.arrivals(label) };
  };
  const runInProcess = async (label: string, n: number): Promise<LoopResult> => {
    const sessionId = newId('sesn');
    cleanup.push(sessionId);
    const startedMs = nowMs();
    await runInProcessLoop({ store: h.store, sandboxes: h.sandboxes, anthropic, sessionId, agent: agentFor(label, n), environment, prompt: 'go', heartbeatEveryMs: HEARTBEAT_EVERY_MS });
    return { label, sessionId, startedMs, endedMs: nowMs(), arrivals: script.arrivals(label) };
  };

  try {
    progress(`orchestration: warm-up (${warmupSteps} steps each way)`);
    await runTemporal('warm-temporal', warmupSteps);
    await runInProcess('warm-inprocess', warmupSteps);

    progress(`orchestration: Temporal session, ${steps} steps`);
    const temporal = await runTemporal('temporal', steps);
    progress(`orchestration: in-process loop, ${steps} steps`);
    const inProcess = await runInProcess('inprocess', steps);

    progress(`orchestration: floors (${floorSamples} replayed model calls, ${floorSamples} sandbox calls)`);
    const modelFloor = await replayModelCalls({ h, script, anthropic, label: 'temporal', samples: floorSamples });
    const { toolFloor, ensureFloor } = await sandboxFloors({ h, sessionId: temporal.sessionId, samples: floorSamples });

    const timeline = await historyTimeline(h.client, temporal.sessionId);
    const report = (loop: LoopResult) => {
      // Step 1 also waits for the sandbox the session warms at its start: it is reported apart.
      const [first, ...steady] = intervalsOf(loop.arrivals);
      const step = summarize(steady);
      const window = probe.between(loop.arrivals[1] ?? 0, loop.arrivals.at(-1) ?? 0);
      return {
        session_id: loop.sessionId,
        wall_ms: round(loop.endedMs - loop.startedMs),
        first_step_ms_includes_sandbox_start: round(first ?? Number.NaN),
        step,
        overhead_per_step_p50_ms: round(step.p50_ms - modelFloor.p50_ms - toolFloor.p50_ms),
        overhead_per_step_mean_ms: round(step.mean_ms - modelFloor.mean_ms - toolFloor.mean_ms),
        store_and_sandbox_calls_per_step: totalsByName(window, steady.length),
        storeMsPerStep: window.filter((c) => c.name.startsWith('store.')).reduce((sum, c) => sum + c.endMs - c.startMs, 0) / Math.max(1, steady.length),
        ensureMsPerStep: window.filter((c) => c.name === 'sandbox.ensure').reduce((sum, c) => sum + c.endMs - c.startMs, 0) / Math.max(1, steady.length),
      };
    };
    const { storeMsPerStep, ensureMsPerStep, ...temporalReport } = report(temporal);
    const { storeMsPerStep: inProcessStoreMs, ensureMsPerStep: inProcessEnsureMs, ...inProcessReport } = report(inProcess);
    const breakdown = stepBreakdown(timeline, steps + 1);
    // A model-call activity may take several steps: its times are shared among them.
    const perStep = (ms: number) => ms / breakdown.steps_per_model_activity;
    const handoffMs = perStep(breakdown.step_activity_done_to_next_scheduled.mean_ms);
    const activityMs = perStep(breakdown.step_activity_schedule_to_start.mean_ms + breakdown.step_activity_start_to_close.mean_ms);
    const knownInActivities = modelFloor.mean_ms + toolFloor.mean_ms + storeMsPerStep + ensureMsPerStep;
    return {
      target: { overhead_per_step_ms_max: TARGET_OVERHEAD_MS },
      steps,
      meets_target: temporalReport.overhead_per_step_p50_ms <= TARGET_OVERHEAD_MS,
      floors: { model_call_replayed_via_sdk: modelFloor, sandbox_bash_true: toolFloor, sandbox_ensure_of_running_sandbox: ensureFloor },
      temporal: {
        ...temporalReport,
        where_a_step_goes_mean_ms: {
          model_http_floor: modelFloor.mean_ms,
          sandbox_call_floor: toolFloor.mean_ms,
          store_calls: round(storeMsPerStep),
          sandbox_ensure_ping: round(ensureMsPerStep),
          activity_runtime_rest: round(activityMs - knownInActivities),
          workflow_task_handoffs: round(handoffMs),
          sum: round(activityMs + handoffMs),
          measured_step_mean: temporalReport.step.mean_ms,
        },
        temporal_breakdown_per_step: breakdown,
        temporal_activity_handoffs: activityHandoffs(timeline),
        history_events: timeline.events,
      },
      in_process_without_temporal: {
        ...inProcessReport,
        where_a_step_goes_mean_ms: {
          model_http_floor: modelFloor.mean_ms,
          sandbox_call_floor: toolFloor.mean_ms,
          store_calls: round(inProcessStoreMs),
          sandbox_ensure_ping: round(inProcessEnsureMs),
          rest: round(inProcessReport.step.mean_ms - modelFloor.mean_ms - toolFloor.mean_ms - inProcessStoreMs - inProcessEnsureMs),
        },
      },
      temporal_minus_in_process: {
        step_p50_ms: round(temporalReport.step.p50_ms - inProcessReport.step.p50_ms),
        step_mean_ms: round(temporalReport.step.mean_ms - inProcessReport.step.mean_ms),
      },
    };
  } finally {
    for (const id of cleanup) {
      await h.client.workflow.getHandle(id).terminate('bench over').catch(() => {});
      await h.sandboxes.destroy(id, { removeVolume: true }).catch(() => {});
    }
  }
}

/** Polls the log for the idle event (a few reads, after the measured steps). */
async function waitForIdle(h: Harness, sessionId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await h.store.listEvents(sessionId, { types: ['session.status_idle'], limit: 1 })).length === 0) {
    if (Date.now() > deadline) throw new Error(`session ${sessionId} did not go idle within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Time between consecutive model requests of one run: one full step each. */
function intervalsOf(arrivals: readonly number[]): number[] {
  return arrivals.slice(1).map((at, i) => at - arrivals[i]!);
}

/** The session's own model requests, sent again straight through the SDK: the model-call floor at the same request sizes. */
async function replayModelCalls({ h, script, anthropic, label, samples }: { h: Harness; script: BenchModelScript; anthropic: Anthropic; label: string; samples: number }): Promise<Summary> {
  const bodies = h.model.calls.filter((call) => JSON.stringify(call.body.system ?? '').includes(`label=${label} `)).map((call) => call.body);
  const every = Math.max(1, Math.floor(bodies.length / Math.max(1, samples)));
  const picked = bodies.filter((_, i) => i % every === 0).slice(0, samples);
  const durations: number[] = [];
  script.recording = false;
  try {
    for (const body of picked) {
      const started = nowMs();
      await anthropic.messages.stream({ ...body, stream: true } as MessageCreateParamsStreaming).finalMessage();
      durations.push(nowMs() - started);
    }
  } finally {
    script.recording = true;
  }
  return summarize(durations);
}

async function sandboxFloors({ h, sessionId, samples }: { h: Harness; sessionId: string; samples: number }): Promise<{ toolFloor: Summary; ensureFloor: Summary }> {
  const sandbox = await h.sandboxes.ensure({ sessionId, networking: { type: 'limited' } });
  const tool: number[] = [];
  const ensure: number[] = [];
  for (let i = 0; i < samples; i++) {
    let started = nowMs();
    await sandbox.runTool({ toolUseId: `toolu_floor_${i}`, name: 'bash', input: { command: 'true' } });
    tool.push(nowMs() - started);
    started = nowMs();
    await h.sandboxes.ensure({ sessionId, networking: { type: 'limited' } });
    ensure.push(nowMs() - started);
  }
  return { toolFloor: summarize(tool), ensureFloor: summarize(ensure) };
}

/**
 * Where the steps' time goes, from the server's history: steps whose tools need no answer
 * run in model-call activities (each runs its steps' tools, and up to `stepsPerActivity`
 * steps back to back), each followed by a workflow task that schedules the next. The
 * columns are per activity; steps that still used a separate `runTool` activity are
 * counted apart.
 */
const STEP_COLUMNS = ['step_activity_schedule_to_start', 'step_activity_start_to_close', 'step_activity_done_to_next_scheduled'] as const;
type StepColumn = (typeof STEP_COLUMNS)[number];

function stepBreakdown(timeline: HistoryTimeline, steps: number) {
  const models = timeline.activities.filter((a) => a.name === 'callModel');
  const columns = Object.fromEntries(STEP_COLUMNS.map((name) => [name, [] as number[]])) as Record<StepColumn, number[]>;
  // Step 1 waits for the sandbox warm-up: skipped, as in the step intervals.
  for (let i = 1; i + 1 < models.length; i++) {
    const model = models[i]!;
    const next = models[i + 1]!;
    columns.step_activity_schedule_to_start.push(model.startedMs - model.scheduledMs);
    columns.step_activity_start_to_close.push(model.completedMs - model.startedMs);
    columns.step_activity_done_to_next_scheduled.push(next.scheduledMs - model.completedMs);
  }
  const stats = (values: number[]): GapStats => {
    const summary = summarize(values);
    return { p50_ms: summary.p50_ms, mean_ms: summary.mean_ms };
  };
  const byColumn = Object.fromEntries(STEP_COLUMNS.map((name) => [name, stats(columns[name])])) as Record<StepColumn, GapStats>;
  const tasks = timeline.workflowTasks;
  return {
    ...byColumn,
    model_activities: models.length,
    steps_per_model_activity: round(steps / Math.max(1, models.length)),
    separate_tool_activities: timeline.activities.filter((a) => a.name === 'runTool').length,
    workflow_tasks_per_step: round(tasks.length / Math.max(1, steps)),
    workflow_task_schedule_to_start: summarize(tasks.map((t) => t.startedMs - t.scheduledMs)),
    workflow_task_start_to_complete: summarize(tasks.map((t) => t.completedMs - t.startedMs)),
  };
}
