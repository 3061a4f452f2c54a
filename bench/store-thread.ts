/**
 * PGlite in-process vs on its own worker thread (`openPgliteDriver({ placement })`):
 * how long the main thread's event loop stalls while the store works, and what the
 * thread costs per store call.
 *
 * Each round opens a fresh in-memory store per placement (the order alternates between
 * rounds, so load drifting on a busy machine hits both alike) and measures:
 * - `sequential`: one call at a time on one session: the appends of a model step and of a
 *   tool result, a transcript tail read, a whole 50-item transcript read, `SELECT 1`;
 * - `concurrent`: `sessions` sessions at once, each running `steps` agent steps (the store
 *   calls of a model call and a tool call, as the activities make them) while one live
 *   reader per session tails its events, as an SSE stream does. Meanwhile the main
 *   thread's event-loop delay (`monitorEventLoopDelay` at 1 ms resolution: the time between
 *   two turns of a 1 ms timer, so an idle loop reads about 1 ms; `idle_event_loop_delay_ms`
 *   is that reading with the store idle), its utilisation and CPU, and the whole process's
 *   CPU (both threads, and V8's helpers) are recorded. In-process, the loop may not turn
 *   at all until the load is over: then there are a few samples, one of them the whole run.
 *
 *   node bench/store-thread.ts        (JSON on stdout; `BENCH_ONLY=store_thread node bench/run.ts` folds it in)
 *
 * Sizes: BENCH_STORE_THREAD_ROUNDS (3), BENCH_STORE_THREAD_SAMPLES (100 per sequential call),
 * BENCH_STORE_THREAD_SESSIONS (20), BENCH_STORE_THREAD_STEPS (10 per session).
 */
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { newId } from '../src/store/ids.ts';
import { openPgliteDriver, type PglitePlacement } from '../src/store/pglite-driver.ts';
import { SessionStore, type NewTranscriptItem } from '../src/store/session-store.ts';
import { nowMs } from './bench-model-script.ts';
import { envInt, progress, round, summarize, timeSequentially, type Summary } from './stats.ts';

/** About what a step writes: a short answer with one tool call, and a tool result of a few KB. */
const ANSWER_TEXT = 'I will look at the files first. '.repeat(30);
const TOOL_OUTPUT = 'drwxr-xr-x 2 agent agent 4096 Dec  4 10:00 src\n'.repeat(50);
const USAGE = { input_tokens: 1200, output_tokens: 80, cache_creation_input_tokens: 0, cache_read_input_tokens: 1100 };

type Step = { sessionId: string; n: number; lastPos: number };

export async function measureStoreThread({ rounds, samples, sessions, steps }: { rounds: number; samples: number; sessions: number; steps: number }) {
  const placements: PglitePlacement[] = ['in-process', 'thread'];
  const byPlacement: Record<PglitePlacement, PlacementResult[]> = { 'in-process': [], thread: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? placements : [...placements].reverse();
    for (const placement of order) {
      progress(`store_thread: round ${r + 1}/${rounds}, ${placement}`);
      byPlacement[placement].push({ round: r + 1, load_average_1m: round(loadavg()[0] ?? 0), ...(await measurePlacement({ placement, samples, sessions, steps })) });
    }
  }
  return {
    what: "in-memory PGlite, in-process vs on a worker thread; event-loop delay and utilisation are the main thread's",
    machine: { cpus: availableParallelism(), load_average_1_5_15_after: loadavg().map(round) },
    sizes: { rounds, samples, sessions, steps_per_session: steps },
    ranges_over_rounds: { in_process: rangesOf(byPlacement['in-process']), thread: rangesOf(byPlacement.thread) },
    in_process: byPlacement['in-process'],
    thread: byPlacement.thread,
  };
}

type PlacementResult = { round: number; load_average_1m: number } & Awaited<ReturnType<typeof measurePlacement>>;

/** [min, max] over the rounds of the figures worth comparing at a glance. */
function rangesOf(results: readonly PlacementResult[]) {
  const range = (pick: (result: PlacementResult) => number) => {
    const values = results.map(pick);
    return [Math.min(...values), Math.max(...values)];
  };
  return {
    load_average_1m: range((r) => r.load_average_1m),
    concurrent_event_loop_delay_p50_ms: range((r) => r.concurrent.event_loop_delay_ms.p50),
    concurrent_event_loop_delay_p99_ms: range((r) => r.concurrent.event_loop_delay_ms.p99),
    concurrent_event_loop_delay_max_ms: range((r) => r.concurrent.event_loop_delay_ms.max),
    concurrent_main_thread_event_loop_utilization: range((r) => r.concurrent.main_thread_event_loop_utilization),
    concurrent_steps_per_s: range((r) => r.concurrent.steps_per_s),
    concurrent_step_p50_ms: range((r) => r.concurrent.step_ms.p50_ms),
    concurrent_process_cpu_ms_per_step: range((r) => r.concurrent.process_cpu_ms_per_step),
    concurrent_main_thread_cpu_ms_per_step: range((r) => r.concurrent.main_thread_cpu_ms_per_step),
    append_model_step_p50_ms: range((r) => r.sequential.append_model_step_4_events_1_item.p50_ms),
    append_tool_result_p50_ms: range((r) => r.sequential.append_tool_result_1_event_1_item.p50_ms),
    read_transcript_tail_p50_ms: range((r) => r.sequential.read_transcript_tail.p50_ms),
    read_transcript_50_items_p50_ms: range((r) => r.sequential.read_transcript_50_items.p50_ms),
    select_1_p50_ms: range((r) => r.sequential.select_1.p50_ms),
    open_and_migrate_ms: range((r) => r.open_and_migrate_ms),
  };
}

async function measurePlacement({ placement, samples, sessions, steps }: { placement: PglitePlacement; samples: number; sessions: number; steps: number }) {
  const opening = nowMs();
  const store = await SessionStore.open(await openPgliteDriver({ placement }));
  const openMs = round(nowMs() - opening);
  try {
    // Warm both the JIT and PGlite's caches the same way before anything is timed.
    const warm: Step = { sessionId: newId('sesn'), n: 0, lastPos: 0 };
    for (let i = 0; i < 20; i++) await runStep(store, warm);
    return { open_and_migrate_ms: openMs, sequential: await sequential(store, samples), concurrent: await concurrent(store, { sessions, steps }) };
  } finally {
    await store.close();
  }
}

async function sequential(store: SessionStore, samples: number) {
  const time = (fn: (i: number) => Promise<unknown>): Promise<Summary> => timeSequentially(samples, fn);
  const step: Step = { sessionId: newId('sesn'), n: 0, lastPos: 0 };
  const full = { sessionId: newId('sesn'), n: 0, lastPos: 0 };
  for (let i = 0; i < 25; i++) await runStep(store, full);
  return {
    append_model_step_4_events_1_item: await time((i) => store.append(step.sessionId, answerEvents(`s${i}`), [answerItem(`s${i}`)])),
    append_tool_result_1_event_1_item: await time((i) => store.append(step.sessionId, [toolResultEvent(`s${i}`)], [toolResultItem(`s${i}`)])),
    read_transcript_tail: await time((i) => store.readTranscript(step.sessionId, { afterPos: 2 * i })),
    read_transcript_50_items: await time(() => store.readTranscript(full.sessionId)),
    select_1: await time(() => store.lastSeq(step.sessionId)),
  };
}

async function concurrent(store: SessionStore, { sessions, steps }: { sessions: number; steps: number }) {
  const controller = new AbortController();
  const ids = Array.from({ length: sessions }, () => newId('sesn'));
  let delivered = 0;
  const readers = ids.map(async (sessionId) => {
    for await (const _ of store.tail(sessionId, { signal: controller.signal })) delivered += 1;
  });
  const idle = await idleEventLoopDelay();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  // The histogram records the time between two of its timer's turns: it must have turned
  // once before the load, or a stall that starts at once goes unrecorded.
  delay.enable();
  await sleep(5);
  const stepMs: number[] = [];
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const mainCpu = process.threadCpuUsage();
  const started = nowMs();
  try {
    await Promise.all(
      ids.map(async (sessionId) => {
        const step: Step = { sessionId, n: 0, lastPos: 0 };
        for (let i = 0; i < steps; i++) {
          const stepStarted = nowMs();
          await runStep(store, step);
          stepMs.push(nowMs() - stepStarted);
        }
      }),
    );
  } finally {
    // PGlite in-process resolves everything in microtasks: the loop may not have turned once
    // since the load began. The timer's next turn records that stall.
    await sleep(5);
    delay.disable();
    controller.abort();
    await Promise.allSettled(readers);
  }
  const wallMs = nowMs() - started;
  const { user, system } = process.cpuUsage(cpu);
  const main = process.threadCpuUsage(mainCpu);
  const total = sessions * steps;
  const ms = (ns: number) => round(ns / 1e6);
  return {
    steps: total,
    wall_s: round(wallMs / 1000),
    steps_per_s: round(total / (wallMs / 1000)),
    step_ms: summarize(stepMs),
    events_delivered_to_readers: delivered,
    event_loop_delay_ms: { samples: delay.count, p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), mean: ms(delay.mean) },
    idle_event_loop_delay_ms: idle,
    main_thread_event_loop_utilization: round(performance.eventLoopUtilization(elu).utilization),
    process_cpu_ms_per_step: round((user + system) / 1000 / total),
    main_thread_cpu_ms_per_step: round((main.user + main.system) / 1000 / total),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The same histogram over half a second with the store idle: what "no stall" reads as (about the 1 ms timer interval). */
async function idleEventLoopDelay() {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await sleep(500);
  delay.disable();
  const ms = (ns: number) => round(ns / 1e6);
  return { samples: delay.count, p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
}

/**
 * The store calls of one agent step, as `callModel` and `runTool` make them: the model
 * request's start span, the transcript tail, the attempt's usage, the answer's events
 * and transcript item, the spend record; then the tool use looked up and its result stored.
 */
async function runStep(store: SessionStore, step: Step): Promise<void> {
  const { sessionId } = step;
  const key = `c${step.n++}`;
  const [start] = await store.append(sessionId, [{ key: `${key}:a1:start`, event: { type: 'span.model_request_start' } }]);
  const fresh = await store.readTranscript(sessionId, { afterPos: step.lastPos });
  step.lastPos = fresh.at(-1)?.pos ?? step.lastPos;
  await store.putAttemptUsage(sessionId, { callKey: key, attempt: 1, model: USAGE, judge: USAGE, final: true });
  await store.listAttemptUsage(sessionId, { callKey: key });
  const [, toolUse] = await store.append(sessionId, answerEvents(key, start?.event.id), [answerItem(key)]);
  await store.threads.recordSpend(sessionId, sessionId, USAGE, 1000 * step.n);
  await store.findEventById(sessionId, toolUse!.event.id);
  await store.append(sessionId, [toolResultEvent(key, toolUse!.event.id)], [toolResultItem(key)]);
}

function answerEvents(key: string, startId = 'sevt_start') {
  return [
    { key: `${key}:block:0`, event: { type: 'agent.message' as const, content: [{ type: 'text', text: ANSWER_TEXT }] } },
    { key: `${key}:block:1`, event: { type: 'agent.tool_use' as const, name: 'bash', input: { command: 'ls -la' } } },
    { key: `${key}:a1:end`, event: { type: 'span.model_request_end' as const, model_request_start_id: startId, is_error: false, model_usage: USAGE } },
    { key: `${key}:usage`, event: { type: 'session.usage' as const, usage: USAGE } },
  ];
}

function answerItem(key: string): NewTranscriptItem {
  return {
    key: `assistant:${key}`,
    item: { kind: 'assistant', content: [{ type: 'text', text: ANSWER_TEXT, citations: null }, { type: 'tool_use', id: `toolu_${key}`, name: 'bash', input: { command: 'ls -la' }, caller: { type: 'direct' } }], stop_reason: 'tool_use' },
  };
}

function toolResultEvent(key: string, toolUseEventId = 'sevt_tool') {
  return { key: `tool:${key}:result`, event: { type: 'agent.tool_result' as const, tool_use_id: toolUseEventId, content: [{ type: 'text', text: TOOL_OUTPUT }], is_error: false } };
}

function toolResultItem(key: string) {
  return { key: `tool:${key}:result`, item: { kind: 'tool_result' as const, tool_use_id: `toolu_${key}`, content: [{ type: 'text' as const, text: TOOL_OUTPUT }], is_error: false } };
}

if (import.meta.main) {
  const results = await measureStoreThread({
    rounds: envInt('BENCH_STORE_THREAD_ROUNDS', 3),
    samples: envInt('BENCH_STORE_THREAD_SAMPLES', 100),
    sessions: envInt('BENCH_STORE_THREAD_SESSIONS', 20),
    steps: envInt('BENCH_STORE_THREAD_STEPS', 10),
  });
  if (process.send) process.send(results, () => process.exit(0));
  else {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    process.exit(0);
  }
}
