/** Benchmarks `run.ts` knows; all but `sandbox`, `sse`, `concurrency`, `long_session` and `store_thread` (each in its own process) run in the `suite.ts` child process. */
export const BENCHMARKS = ['sandbox', 'orchestration', 'temporal_floor', 'cold_start', 'event_delivery', 'steering', 'outcomes', 'multiagent', 'deployments', 'webhooks', 'memory', 'sandbox_neighbours', 'sse', 'concurrency', 'long_session', 'store_thread'] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];
export const SUITE_BENCHMARKS = ['orchestration', 'temporal_floor', 'cold_start', 'event_delivery', 'steering', 'outcomes', 'multiagent', 'deployments', 'webhooks', 'memory', 'sandbox_neighbours'] as const satisfies readonly BenchmarkName[];
export type SuiteBenchmark = (typeof SUITE_BENCHMARKS)[number];
