import { AgentDefinition } from '../src/schemas/agent.ts';
import { collectEvents, isIdle, type Harness } from '../test/support/harness.ts';
import { benchSystemPrompt, nowMs, type BenchModelScript } from './bench-model-script.ts';
import { sessionOf, type CallProbe } from './call-probe.ts';
import { progress, summarize } from './stats.ts';
import { historyTimeline } from './workflow-history.ts';

const TARGET_FIRST_REQUEST_P50_MS = 400;

/**
 * Benchmark 3: from the `sessions.create` call to the scripted model receiving
 * the session's first request, and to its sandbox being usable (the workflow
 * warms it in parallel with the first model call). One session at a time.
 */
export async function measureColdStart({
  harness: h,
  script,
  probe,
  sessions,
  label: kind = 'cold',
  beforeEach,
}: {
  harness: Harness;
  script: BenchModelScript;
  probe: CallProbe;
  sessions: number;
  /** Names the pass in the script and the progress lines. Default `cold`. */
  label?: string;
  /** Waited for before each session is created (a warm pool's refill). */
  beforeEach?: () => Promise<void>;
}) {
  const samples = {
    create_call_returned: [] as number[],
    first_model_request: [] as number[],
    sandbox_usable: [] as number[],
    first_tool_result: [] as number[],
    workflow_started_in_history: [] as number[],
    first_workflow_task_started: [] as number[],
    model_activity_started: [] as number[],
    model_activity_start_to_request: [] as number[],
  };
  for (let i = -1; i < sessions; i++) {
    // Session -1 warms the worker's workflow cache and code paths; it is not counted.
    const label = `${kind}-${i}`;
    await beforeEach?.();
    const agent = AgentDefinition.parse({ name: 'bench', model: 'claude-sonnet-5-5', system: benchSystemPrompt({ label, steps: 1 }), tools: [{ type: 'agent_toolset_20260401' }] });
    const startedMs = nowMs();
    const session = await h.longhaul.sessions.create({ agent, events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }] });
    const createdMs = nowMs();
    try {
      const firstRequestMs = await script.waitForArrival(label, 1);
      await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 60_000 });
      if (i < 0) continue;
      const ofSession = probe.calls.filter((c) => c.startMs >= startedMs && sessionOf(c) === session.id);
      const ensured = ofSession.find((c) => c.name === 'sandbox.ensure');
      const toolDone = ofSession.find((c) => c.name === 'sandbox.runTool');
      const timeline = await historyTimeline(h.client, session.id);
      const model = timeline.activities.find((a) => a.name === 'callModel');
      samples.create_call_returned.push(createdMs - startedMs);
      samples.first_model_request.push(firstRequestMs - startedMs);
      if (ensured) samples.sandbox_usable.push(ensured.endMs - startedMs);
      if (toolDone) samples.first_tool_result.push(toolDone.endMs - startedMs);
      samples.workflow_started_in_history.push(timeline.startedMs - startedMs);
      const firstTask = timeline.workflowTasks[0];
      if (firstTask) samples.first_workflow_task_started.push(firstTask.startedMs - startedMs);
      if (model) {
        samples.model_activity_started.push(model.startedMs - startedMs);
        samples.model_activity_start_to_request.push(firstRequestMs - model.startedMs);
      }
      progress(`${kind} start ${i + 1}/${sessions}: first request ${Math.round(firstRequestMs - startedMs)} ms, sandbox ${ensured ? Math.round(ensured.endMs - startedMs) : '?'} ms`);
    } finally {
      await h.client.workflow.getHandle(session.id).terminate('bench over').catch(() => {});
      await h.sandboxes.destroy(session.id, { removeVolume: true }).catch(() => {});
    }
  }
  const firstRequest = summarize(samples.first_model_request);
  return {
    target: { first_model_request_p50_ms_max: TARGET_FIRST_REQUEST_P50_MS },
    meets_target: firstRequest.p50_ms <= TARGET_FIRST_REQUEST_P50_MS,
    create_to_first_model_request: firstRequest,
    create_to_sandbox_usable: summarize(samples.sandbox_usable),
    create_to_first_tool_result: summarize(samples.first_tool_result),
    breakdown_from_create_call: {
      create_call_returned: summarize(samples.create_call_returned),
      workflow_started_in_history: summarize(samples.workflow_started_in_history),
      first_workflow_task_started: summarize(samples.first_workflow_task_started),
      model_activity_started: summarize(samples.model_activity_started),
      model_activity_start_to_request_received: summarize(samples.model_activity_start_to_request),
    },
  };
}
