/**
 * Longhaul's benchmarks: `npm run bench` prints one JSON document on stdout
 * (progress goes to stderr). Never part of `npm test`.
 *
 * Sizes come from the environment:
 *   BENCH_ONLY              comma list of sandbox, orchestration, temporal_floor, cold_start, event_delivery, steering, outcomes, multiagent, deployments, webhooks, memory, sandbox_neighbours, sse, concurrency, long_session, store_thread (default all)
 *   BENCH_STEPS             steps of the orchestration loop (default 100)
 *   BENCH_WARMUP_STEPS      warm-up steps before it, each way (default 10)
 *   BENCH_FLOOR_SAMPLES     replayed model calls and bare sandbox calls for the floors (default 50)
 *   BENCH_NULL_STEPS        steps of the empty-activity Temporal floor (default 100)
 *   BENCH_COLD_SESSIONS     sessions started for the cold-start figures (default 10)
 *   BENCH_DELIVERY_EVENTS   events appended for the delivery latency (default 300)
 *   BENCH_STEERING_TURNS    interrupts and approvals measured on a production-heartbeat worker (default 20)
 *   BENCH_OUTCOME_SAMPLES   outcomes graded for the turn end → grader request latency (default 20)
 *   BENCH_MULTIAGENT_SAMPLES delegations for the delegation → specialist request latency (default 20; a quarter of it, at least 3, for the 3 × 2 s wall time)
 *   BENCH_DEPLOYMENT_SAMPLES schedule fires for the fire → first model request latency (default 20)
 *   BENCH_WEBHOOK_SAMPLES   sessions whose session.idled webhook is timed to a local receiver (default 20)
 *   BENCH_MEMORY_SAMPLES    agent writes under /mnt/memory timed until the store has them (default 20)
 *   BENCH_MEMORY_START_SAMPLES sessions started with and without a 1,000-memory store (default 5 each)
 *   BENCH_NEIGHBOUR_SAMPLES neighbour steps (and bare echo calls) per load and CPU setting while another sandbox hogs the CPU or fork-bombs (default 30),
 *                           taken in BENCH_NEIGHBOUR_ROUNDS windows per scenario, the scenarios taking turns (default 3)
 *   BENCH_POSTGRES=1        also measure event delivery on a throwaway PostgreSQL server
 *   BENCH_SANDBOX_CALLS / BENCH_SANDBOX_EXECS / BENCH_SANDBOX_CREATES   sizes for bench/sandbox-tool-call.ts (300 / 40 / 6)
 *   BENCH_SSE_*             sizes for bench/sse-bench.ts (`longhaul serve` + SDK streams; see that file)
 *   BENCH_CONCURRENCY_SESSIONS  comma list of N for bench/concurrency.ts: N sessions created at once through the SDK on a real `longhaul dev` (default 10,50)
 *   BENCH_CONCURRENCY_STEPS     steps (one model call asking for one bash call, and running it) per session (default 20)
 *   BENCH_CONCURRENCY_BASELINE  a git revision (e.g. bb11eea) measured beside the working tree, from a temporary worktree
 *   BENCH_LONG_SESSION_STEPS    steps of the session that runs for days (bench/long-session.ts; default 10000, about 10 minutes)
 *   BENCH_STORE_THREAD_*    sizes for bench/store-thread.ts (PGlite in-process vs on a worker thread: ROUNDS 3, SAMPLES 100, SESSIONS 20, STEPS 10)
 *
 * Needs Docker, the sandbox image and the Temporal CLI (source .cache/env.sh).
 */
import { execFile, fork } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { nowMs } from './bench-model-script.ts';
import { envInt, progress, round } from './stats.ts';
import { BENCHMARKS, SUITE_BENCHMARKS, type BenchmarkName } from './benchmark-names.ts';

const only = new Set((process.env['BENCH_ONLY'] ?? BENCHMARKS.join(',')).split(',').map((s) => s.trim()).filter(Boolean));
for (const name of only) if (!(BENCHMARKS as readonly string[]).includes(name)) throw new Error(`BENCH_ONLY: unknown benchmark ${name}; known: ${BENCHMARKS.join(', ')}`);
const wanted = (name: BenchmarkName) => only.has(name);

const SANDBOX_ECHO_TARGET_P50_MS = 5;

const startedMs = nowMs();
// Other work on the machine skews every figure: the report carries the load around the run.
const loadBefore = loadavg().map(round);
const results: Record<string, unknown> = {};

if (wanted('sandbox')) results['sandbox_bash_echo'] = await sandboxToolCallBench();

if (SUITE_BENCHMARKS.some((name) => wanted(name))) Object.assign(results, await resultsOfChildProcess('suite.ts'));

// Its own PostgreSQL, Temporal and `longhaul serve` child: nothing shared with the suite's harness.
if (wanted('sse')) results['sse_streams'] = await resultsOfChildProcess('sse-bench.ts');

// Its own `longhaul dev` children, one per size (and revision).
if (wanted('concurrency')) results['concurrency'] = await resultsOfChildProcess('concurrency.ts');

// Its own Temporal, PostgreSQL and worker process, whose memory it watches.
if (wanted('long_session')) Object.assign(results, await resultsOfChildProcess('long-session.ts'));

// A clean process of its own: it measures the main thread's event loop.
if (wanted('store_thread')) results['store_thread'] = await resultsOfChildProcess('store-thread.ts');

results['total_runtime_s'] = round((nowMs() - startedMs) / 1000);
const machine = { node: process.version, cpus: availableParallelism(), load_average_1_5_15_before: loadBefore, load_average_1_5_15_after: loadavg().map(round) };
process.stdout.write(`${JSON.stringify({ benchmark: 'longhaul', machine, results }, null, 2)}\n`);

/** Benchmark 2: `bench/sandbox-tool-call.ts` in its own process, its JSON folded in with the target. */
async function sandboxToolCallBench(): Promise<unknown> {
  const script = fileURLToPath(new URL('./sandbox-tool-call.ts', import.meta.url));
  const args = [
    script,
    '--calls', String(envInt('BENCH_SANDBOX_CALLS', 300)),
    '--execs', String(envInt('BENCH_SANDBOX_EXECS', 40)),
    '--creates', String(envInt('BENCH_SANDBOX_CREATES', 6)),
  ];
  progress(`sandbox tool call: node ${args.map((a) => a.replace(/^.*\/bench\//, 'bench/')).join(' ')}`);
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 10_000_000 });
  const figures = JSON.parse(stdout) as { executor_bash_echo: { p50_ms: number }; docker_exec_bash_echo: { p50_ms: number } };
  return {
    target: { executor_bash_echo_p50_ms_max: SANDBOX_ECHO_TARGET_P50_MS },
    meets_target: figures.executor_bash_echo.p50_ms <= SANDBOX_ECHO_TARGET_P50_MS,
    speedup_vs_docker_exec_p50: round(figures.docker_exec_bash_echo.p50_ms / figures.executor_bash_echo.p50_ms),
    ...figures,
  };
}

/** Runs a bench script in a child whose stdout goes to our stderr (Temporal's core logs there); results come back over IPC. */
function resultsOfChildProcess(file: 'suite.ts' | 'sse-bench.ts' | 'concurrency.ts' | 'long-session.ts' | 'store-thread.ts'): Promise<Record<string, unknown>> {
  const script = fileURLToPath(new URL(`./${file}`, import.meta.url));
  const child = fork(script, [], { stdio: ['ignore', 2, 2, 'ipc'], env: { ...process.env, BENCH_ONLY: [...only].join(',') } });
  return new Promise((resolve, reject) => {
    let results: Record<string, unknown> | undefined;
    child.on('message', (message) => (results = message as Record<string, unknown>));
    child.on('error', reject);
    child.on('exit', (code) => (results && code === 0 ? resolve(results) : reject(new Error(`bench/${file} exited with code ${code}`))));
  });
}
