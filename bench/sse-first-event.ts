import { benchSystemPrompt, nowMs, type BenchModelScript } from './bench-model-script.ts';
import type { SseEngine } from './sse-engine.ts';
import { progress, summarize } from './stats.ts';

export const SSE_FIRST_EVENT_TARGET_P50_MS = 300;

/**
 * SSE benchmark (c): from the SDK's `sessions.create` (with the first user message
 * as `initial_events`) to the first `agent.*` event on a stream opened right after,
 * with a zero-latency scripted model (so this is all engine: HTTP, Temporal start,
 * workflow and activity tasks, model activity, event append, NOTIFY, SSE). One
 * session at a time; the first one warms the worker, Docker and the server, and is
 * not counted.
 */
export async function measureSseFirstEvent({ engine, script, environmentId, sessions }: { engine: SseEngine; script: BenchModelScript; environmentId: string; sessions: number }) {
  const { client } = engine;
  const samples = { create_call: [] as number[], model_request: [] as number[], first_agent_event: [] as number[] };
  let caughtFromList = 0;
  for (let i = -1; i < sessions; i++) {
    const label = `sse-first-${i}`;
    const agent = await client.beta.agents.create({ name: label, model: 'claude-sonnet-5-5', system: benchSystemPrompt({ label, steps: 0 }), tools: [{ type: 'agent_toolset_20260401' }] });
    const startedMs = nowMs();
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: environmentId,
      initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }],
    });
    const createdMs = nowMs();
    const stream = await client.beta.sessions.events.stream(session.id);
    let firstAgentMs: number | undefined;
    const timer = setTimeout(() => stream.controller.abort(), 10_000);
    try {
      for await (const event of stream) {
        if (event.type.startsWith('agent.')) {
          firstAgentMs = nowMs();
          break;
        }
      }
    } catch (error) {
      if (!stream.controller.signal.aborted) throw error;
    } finally {
      clearTimeout(timer);
      stream.controller.abort();
    }
    if (firstAgentMs === undefined) {
      // The stream is live from connection: an event written before it connected is only in the log.
      const listed = await client.beta.sessions.events.list(session.id, { limit: 100 });
      const first = listed.data.find((e) => e.type.startsWith('agent.'));
      if (!first || !('processed_at' in first) || !first.processed_at) throw new Error(`sse first event: no agent event for ${session.id}`);
      firstAgentMs = Date.parse(first.processed_at);
      caughtFromList += 1;
    }
    const modelMs = await script.waitForArrival(label, 1);
    await engine.endSession(session.id);
    if (i < 0) continue;
    samples.create_call.push(createdMs - startedMs);
    samples.model_request.push(modelMs - startedMs);
    samples.first_agent_event.push(firstAgentMs - startedMs);
    progress(`sse first event ${i + 1}/${sessions}: ${Math.round(firstAgentMs - startedMs)} ms`);
  }
  const first = summarize(samples.first_agent_event);
  return {
    target: { create_to_first_agent_event_p50_ms_max: SSE_FIRST_EVENT_TARGET_P50_MS, model_latency_ms: 0 },
    meets_target: first.p50_ms <= SSE_FIRST_EVENT_TARGET_P50_MS,
    create_to_first_agent_event: first,
    breakdown_from_create_call: { create_call_returned: summarize(samples.create_call), model_request_received: summarize(samples.model_request) },
    first_agent_event_only_in_log: caughtFromList,
  };
}
