/** Percentiles and summaries shared by the benchmarks. */

export type Summary = { n: number; p50_ms: number; p95_ms: number; p99_ms: number; mean_ms: number; max_ms: number };

/** Nearest-rank percentile of `samples` (ms), rounded to 0.01 ms; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round(sorted[index] ?? Number.NaN);
}

export function summarize(samples: readonly number[]): Summary {
  const total = samples.reduce((sum, s) => sum + s, 0);
  return {
    n: samples.length,
    p50_ms: percentile(samples, 50),
    p95_ms: percentile(samples, 95),
    p99_ms: percentile(samples, 99),
    mean_ms: samples.length === 0 ? Number.NaN : round(total / samples.length),
    max_ms: samples.length === 0 ? Number.NaN : round(Math.max(...samples)),
  };
}

/** Runs `fn` `samples` times one after another and summarises how long each run took. */
export async function timeSequentially(samples: number, fn: (i: number) => Promise<unknown>): Promise<Summary> {
  const durations: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await fn(i);
    durations.push(performance.now() - started);
  }
  return summarize(durations);
}

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Integer from an environment variable, or `fallback`. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** Progress for humans; stdout carries only the JSON report. */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
