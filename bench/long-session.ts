/**
 * A session that runs for days: BENCH_LONG_SESSION_STEPS model requests (default 10,000)
 * in turns of 1,000, each step one bash call with 2 KB of output and an answer whose text
 * stays in the context (so clearing tool outputs is not enough and the context is
 * summarised again and again). The worker runs in its own process on PostgreSQL, so its
 * resident memory is its own; the scripted model has a context window and refuses
 * anything longer, as the API does.
 *
 * Reports the largest Temporal run history; the worker's memory at every 1,000 steps,
 * twice: right after a full, compacting collection in the worker (V8's last-resort kind,
 * which also gives emptied pages back: what it retains, the figure the target is about, as
 * it depends neither on when V8 last collected nor on how far its heap once grew) and the peak RSS of
 * each turn as the OS sees it; the largest request and its tokens against the window;
 * and the summaries made.
 *
 *   node bench/long-session.ts          (or BENCH_ONLY=long_session npm run bench)
 *
 * Sizes: BENCH_LONG_SESSION_STEPS (default 10000, a multiple of 1000).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleLonghaulWorkflows } from '../src/worker/create-worker.ts';
import { SUMMARY_SYSTEM } from '../src/core/context-summary.ts';
import { reply, toolUse, type ScriptFunction } from '../src/testing/index.ts';
import { collectEvents, isIdle, startHarness, startTestTemporal } from '../test/support/harness.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { kill9, probeWorkerMemory, startWorkerProcess } from '../test/support/worker-processes.ts';
import { readProcess } from './process-usage.ts';
import { nowMs } from './bench-model-script.ts';
import { envInt, progress, round } from './stats.ts';

const STEPS_PER_TURN = 1_000;
/** The worker's RSS is read every this many steps (its peak per turn is reported). */
const RSS_EVERY_STEPS = 50;
/** The scripted model's window, and the worker's byte budget: about 25k tokens of transcript, half the window. */
const WINDOW_TOKENS = 50_000;
const BUDGET_BYTES = 100_000;
const TARGET = { largest_run_history_events_max: 2_000, worker_rss_after_gc_growth_from_step_1000_max_pct: 10 };

const MIB = 1024 * 1024;

export async function measureLongSession({ steps }: { steps: number }): Promise<Record<string, unknown>> {
  if (steps < STEPS_PER_TURN || steps % STEPS_PER_TURN !== 0) throw new Error(`BENCH_LONG_SESSION_STEPS must be a multiple of ${STEPS_PER_TURN}`);
  const temporal = await startTestTemporal();
  await using postgres = await startPostgres();
  // Bundled here, so the worker's memory is the worker's own and not the bundler's.
  const bundleDir = mkdtempSync('/tmp/longhaul-bench-bundle-');
  const workflowBundlePath = join(bundleDir, 'workflows.js');
  writeFileSync(workflowBundlePath, (await bundleLonghaulWorkflows()).code);
  let worker: ChildProcess | undefined;
  try {
    let step = 0;
    let summaries = 0;
    let largestRequestBytes = 0;
    let largestInputTokens = 0;
    /** The highest RSS read in each turn (every RSS_EVERY_STEPS steps, as the OS reports it), by the turn's last step. */
    const peakRssMib: Record<number, number> = {};
    /** At each turn's end, after a full collection in the worker. */
    const afterGc: Record<number, { rss_mib: number; heap_total_mib: number; heap_used_mib: number; external_mib: number }> = {};
    const script: ScriptFunction = async (request) => {
      // As the scripted model counts input tokens: about four characters a token.
      largestInputTokens = Math.max(largestInputTokens, Math.ceil(JSON.stringify([request.system ?? '', request.messages, request.tools ?? []]).length / 4));
      largestRequestBytes = Math.max(largestRequestBytes, JSON.stringify(request).length);
      if (request.system === SUMMARY_SYSTEM) return reply(`Summary ${++summaries}: the agent ran ${step} steps of echo commands so far; the work goes on. ${'s'.repeat(600)}`);
      step += 1;
      const turnEnd = Math.ceil(step / STEPS_PER_TURN) * STEPS_PER_TURN;
      if (step % RSS_EVERY_STEPS === 0 && worker?.pid !== undefined) {
        const rss = readProcess(worker.pid)?.rssBytes;
        if (rss !== undefined) peakRssMib[turnEnd] = Math.max(peakRssMib[turnEnd] ?? 0, round(rss / MIB));
      }
      if (step % STEPS_PER_TURN === 0) {
        if (worker !== undefined) {
          const usage = await probeWorkerMemory(worker);
          afterGc[step] = { rss_mib: round(usage.rss / MIB), heap_total_mib: round(usage.heapTotal / MIB), heap_used_mib: round(usage.heapUsed / MIB), external_mib: round(usage.external / MIB) };
        }
        progress(`long session: step ${step}, worker RSS ${afterGc[step]?.rss_mib ?? '?'} MiB after a collection (peak ${peakRssMib[step] ?? '?'} MiB), ${summaries} summaries, largest request ${largestRequestBytes} bytes`);
        return reply(`Turn done at step ${step}.`);
      }
      return reply(`Step ${step}: running the next command. ${'n'.repeat(300)}`, toolUse('bash', { command: `head -c 2000 /dev/zero | tr '\\0' o; echo ' ${step}'` }));
    };
    await using h = await startHarness({ temporal, script, worker: false, postgresUrl: postgres.url, model: { contextWindowTokens: WINDOW_TOKENS, keepCalls: 20 } });
    worker = await startWorkerProcess(h, { postgresUrl: postgres.url, temporalAddress: temporal.address, workflowBundlePath, memoryProbe: true, context: { contextWindowTokens: WINDOW_TOKENS, contextBudgetBytes: BUDGET_BYTES } });

    const startedMs = nowMs();
    const session = await h.longhaul.sessions.create({
      agent: { model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] },
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'Run one command per step until I stop you.' }] }],
    });
    let after: string | undefined;
    for (let turn = 1; turn <= steps / STEPS_PER_TURN; turn++) {
      const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 60 * 60_000, ...(after ? { after } : {}) });
      const idle = events.at(-1);
      if (idle?.type !== 'session.status_idle' || idle.stop_reason.type !== 'end_turn') throw new Error(`turn ${turn} ended with ${JSON.stringify(idle)}`);
      after = idle.id;
      if (turn < steps / STEPS_PER_TURN) await h.longhaul.events.send(session.id, [{ type: 'user.message', content: [{ type: 'text', text: `Turn ${turn + 1}: go on.` }] }]);
    }
    const wallS = (nowMs() - startedMs) / 1000;

    const histories: number[] = [];
    for await (const run of h.client.workflow.list({ query: `WorkflowId = '${session.id}'` })) {
      histories.push((await h.client.workflow.getHandle(session.id, run.runId).describe()).historyLength);
    }
    // Measured: stopped at once, before the harness ends the session under it.
    await kill9(worker);
    const compacted = (await h.store.listEvents(session.id, { types: ['agent.thread_context_compacted'], limit: 100_000 })).length;
    const errors = await h.store.listEvents(session.id, { types: ['session.error'], limit: 100 });
    const growth = (figures: Record<number, number | undefined>) => {
      const [first, last] = [figures[STEPS_PER_TURN], figures[steps]];
      return first !== undefined && last !== undefined ? round(((last - first) / first) * 100) : Number.NaN;
    };
    const growthPct = growth(Object.fromEntries(Object.entries(afterGc).map(([at, figures]) => [at, figures.rss_mib])));
    const largestRun = Math.max(...histories);
    return {
      target: TARGET,
      meets_target: largestRun <= TARGET.largest_run_history_events_max && growthPct <= TARGET.worker_rss_after_gc_growth_from_step_1000_max_pct && errors.length === 0,
      steps,
      turns: steps / STEPS_PER_TURN,
      wall_s: round(wallS),
      steps_per_s: round(steps / wallS),
      temporal_runs: histories.length,
      largest_run_history_events: largestRun,
      worker_memory_after_gc: {
        rss_growth_pct: growthPct,
        heap_used_growth_pct: growth(Object.fromEntries(Object.entries(afterGc).map(([at, figures]) => [at, figures.heap_used_mib]))),
        by_step: afterGc,
      },
      // As production sees it: how high the heap let garbage pile up between collections.
      worker_rss_peak_mib: { growth_pct: growth(peakRssMib), by_turn_end: peakRssMib },
      largest_request_bytes: largestRequestBytes,
      largest_request_input_tokens: largestInputTokens,
      model_window_tokens: WINDOW_TOKENS,
      worker_budget_bytes: BUDGET_BYTES,
      // The scripted model refuses a request over its window before the script sees it.
      requests_refused_as_too_long: h.model.callCount - step - summaries,
      summary_requests: summaries,
      context_compacted_events: compacted,
      session_errors: errors.map((e) => e.event.type === 'session.error' ? e.event.error.type : ''),
    };
  } finally {
    if (worker) await kill9(worker);
    await temporal.stop();
    rmSync(bundleDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const results = await measureLongSession({ steps: envInt('BENCH_LONG_SESSION_STEPS', 10_000) });
  if (process.send) process.send({ long_session: results }, () => process.exit(0));
  else {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    process.exit(0);
  }
}
