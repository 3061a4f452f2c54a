import { AgentDefinition } from '../src/schemas/agent.ts';
import type { SessionEvent } from '../src/schemas/events.ts';
import type { SessionStore } from '../src/store/session-store.ts';
import type { DevServer } from '../src/temporal/dev-server.ts';
import { lastUserText, text, toolUse, type ScriptFunction } from '../src/testing/index.ts';
import type { Sandbox } from '../sandbox/types.ts';
import { startHarness } from '../test/support/harness.ts';
import { nowMs } from './bench-model-script.ts';
import { progress, summarize } from './stats.ts';

const TARGET_INTERRUPT_P50_MS = 250;
const TARGET_APPROVAL_P50_MS = 100;
const TARGET_INTERRUPT_MODEL_P50_MS = 150;

/** The worker's production heartbeat (the test harness uses a faster one). */
const PRODUCTION_HEARTBEAT_MS = 1000;

/**
 * Benchmark: steering a running session, on a worker with production settings.
 * - `user.interrupt` while `sleep 60` runs in the sandbox → `session.status_idle` in the log.
 * - `user.interrupt` while a model request that would take a minute streams → `session.status_idle`.
 * - `user.tool_confirmation` (allow) of an `always_ask` call → the sandbox receiving the tool call.
 * Each sample is one turn of one session; the clock starts when the signal is sent.
 */
export async function measureSteering({ temporal, turns }: { temporal: DevServer; turns: number }) {
  // Each turn: a message asks for a tool; once only tool results follow, the model ends the turn.
  const script: ScriptFunction = (request) => {
    const ask = lastUserText(request);
    if (!ask) return { content: [text('done')] };
    // A model request that takes a minute: the interrupt stops it while it streams.
    if (ask.includes('think')) return { content: [text('thought it over')], delayMs: 60_000 };
    return { content: [toolUse('bash', { command: ask.includes('sleep') ? 'sleep 60' : 'true' })] };
  };
  await using h = await startHarness({ temporal, script, heartbeatEveryMs: PRODUCTION_HEARTBEAT_MS });

  // When the sandbox received each tool call, by `toolu_…` id.
  const toolStarts = new Map<string, number>();
  const ensure = h.sandboxes.ensure.bind(h.sandboxes);
  const wrapped = new WeakSet<Sandbox>();
  h.sandboxes.ensure = async (spec) => {
    const sandbox = await ensure(spec);
    if (!wrapped.has(sandbox)) {
      wrapped.add(sandbox);
      const runTool = sandbox.runTool.bind(sandbox);
      sandbox.runTool = (request) => {
        toolStarts.set(request.toolUseId, nowMs());
        return runTool(request);
      };
    }
    return sandbox;
  };

  const message = (words: string) => [{ type: 'user.message' as const, content: [{ type: 'text' as const, text: words }] }];
  const interrupt: number[] = [];
  const interruptModel: number[] = [];
  const approval: number[] = [];
  const interruptAgent = AgentDefinition.parse({ name: 'bench', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const askingAgent = AgentDefinition.parse({
    name: 'bench',
    model: 'claude-sonnet-5-5',
    tools: [{ type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'always_ask' } } }],
  });

  const interrupted = await h.longhaul.sessions.create({ agent: interruptAgent });
  const asking = await h.longhaul.sessions.create({ agent: askingAgent });
  const tail = (sessionId: string) => eventClock(h.longhaul.events.stream(sessionId));
  const interruptLog = tail(interrupted.id);
  const thinking = await h.longhaul.sessions.create({ agent: interruptAgent });
  const thinkingLog = tail(thinking.id);
  const askingLog = tail(asking.id);
  try {
    for (let turn = -1; turn < turns; turn++) {
      // Turn -1 warms the sandboxes and the worker's workflow cache; it is not counted.
      const toolsBefore = toolStarts.size;
      await h.longhaul.events.send(interrupted.id, message('sleep a minute'));
      while (toolStarts.size === toolsBefore) await new Promise((resolve) => setTimeout(resolve, 5));
      // Let the process start inside the container.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const sentMs = nowMs();
      await h.longhaul.events.send(interrupted.id, [{ type: 'user.interrupt' }]);
      const idleMs = (await interruptLog.next((e) => e.type === 'session.status_idle')).atMs;
      if (turn >= 0) interrupt.push(idleMs - sentMs);

      const requestsBefore = h.model.calls.length;
      await h.longhaul.events.send(thinking.id, message('think it over'));
      while (h.model.calls.length === requestsBefore) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const interruptModelMs = nowMs();
      await h.longhaul.events.send(thinking.id, [{ type: 'user.interrupt' }]);
      const modelIdleMs = (await thinkingLog.next((e) => e.type === 'session.status_idle')).atMs;
      if (turn >= 0) interruptModel.push(modelIdleMs - interruptModelMs);

      await h.longhaul.events.send(asking.id, message('run true'));
      const held = await askingLog.next((e) => e.type === 'session.status_idle' && e.stop_reason.type === 'requires_action');
      const [eventId] = held.event.type === 'session.status_idle' && held.event.stop_reason.type === 'requires_action' ? held.event.stop_reason.event_ids : [];
      const toolUseId = await modelToolUseId(h.store, asking.id);
      const confirmedMs = nowMs();
      await h.longhaul.events.send(asking.id, [{ type: 'user.tool_confirmation', tool_use_id: eventId!, result: 'allow' }]);
      await askingLog.next((e) => e.type === 'session.status_idle' && e.stop_reason.type === 'end_turn');
      const startedMs = toolStarts.get(toolUseId);
      if (turn >= 0 && startedMs !== undefined) approval.push(startedMs - confirmedMs);
      progress(`steering ${turn + 1}/${turns}: interrupt → idle ${Math.round(idleMs - sentMs)} ms (model streaming: ${Math.round(modelIdleMs - interruptModelMs)} ms), approval → tool ${startedMs ? Math.round(startedMs - confirmedMs) : '?'} ms`);
    }
  } finally {
    interruptLog.close();
    thinkingLog.close();
    askingLog.close();
  }
  const interruptSummary = summarize(interrupt);
  const approvalSummary = summarize(approval);
  const interruptModelSummary = summarize(interruptModel);
  return {
    worker_heartbeat_ms: PRODUCTION_HEARTBEAT_MS,
    interrupt_to_idle_while_tool_runs: { target_p50_ms_max: TARGET_INTERRUPT_P50_MS, meets_target: interruptSummary.p50_ms <= TARGET_INTERRUPT_P50_MS, ...interruptSummary },
    interrupt_to_idle_while_model_streams: {
      target_p50_ms_max: TARGET_INTERRUPT_MODEL_P50_MS,
      meets_target: interruptModelSummary.p50_ms <= TARGET_INTERRUPT_MODEL_P50_MS,
      ...interruptModelSummary,
    },
    approval_to_tool_start: { target_p50_ms_max: TARGET_APPROVAL_P50_MS, meets_target: approvalSummary.p50_ms <= TARGET_APPROVAL_P50_MS, ...approvalSummary },
  };
}

type Timed = { event: SessionEvent; atMs: number };

/** Reads a session's live events, noting when each arrived; `next` waits for the first unread match. */
function eventClock(stream: AsyncIterable<SessionEvent>) {
  const seen: Timed[] = [];
  let read = 0;
  let wake: (() => void) | undefined;
  let closed = false;
  const iterator = stream[Symbol.asyncIterator]();
  void (async () => {
    while (!closed) {
      const { value, done } = await iterator.next();
      if (done) break;
      seen.push({ event: value, atMs: nowMs() });
      wake?.();
    }
  })();
  return {
    async next(match: (event: SessionEvent) => boolean): Promise<Timed> {
      for (;;) {
        while (read < seen.length) {
          const candidate = seen[read++]!;
          if (match(candidate.event)) return candidate;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    close() {
      closed = true;
      void iterator.return?.();
      wake?.();
    },
  };
}

/** The model's `toolu_…` id of the latest answer's tool call, from the transcript. */
async function modelToolUseId(store: SessionStore, sessionId: string): Promise<string> {
  const items = await store.readTranscript(sessionId);
  const last = items.findLast((i) => i.item.kind === 'assistant')?.item;
  return last?.kind === 'assistant' ? (last.content.find((b) => b.type === 'tool_use')?.id ?? '') : '';
}
