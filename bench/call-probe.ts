import { nowMs } from './bench-model-script.ts';

/** One timed call of a wrapped method. */
export type ProbedCall = { name: string; startMs: number; endMs: number; firstArg: unknown; result: unknown; tag: string | undefined };

/** The session a call was about: its tag, a string first argument, or the first argument's `sessionId`. */
export function sessionOf(call: ProbedCall): string | undefined {
  if (call.tag !== undefined) return call.tag;
  if (typeof call.firstArg === 'string') return call.firstArg;
  const sessionId = (call.firstArg as { sessionId?: unknown } | null | undefined)?.sessionId;
  return typeof sessionId === 'string' ? sessionId : undefined;
}

/**
 * Times the calls of chosen methods on live objects (the harness's store and
 * sandbox driver), without changing their code: each method is replaced on the
 * instance by a wrapper that records start and end. Undo with `restore()`.
 */
export class CallProbe {
  readonly calls: ProbedCall[] = [];
  readonly #restores: (() => void)[] = [];
  readonly #wrapped = new WeakSet<object>();

  /** Wraps `methods` of `target`, recording them as `${prefix}.${method}`, tagged with `tag` when given. */
  wrap<T extends object>(target: T, prefix: string, methods: readonly (keyof T & string)[], tag?: string): void {
    if (this.#wrapped.has(target)) return;
    this.#wrapped.add(target);
    const record = target as Record<string, unknown>;
    for (const method of methods) {
      const original = record[method];
      if (typeof original !== 'function') throw new Error(`${prefix}.${method} is not a function`);
      const name = `${prefix}.${method}`;
      const calls = this.calls;
      const probe = this;
      record[method] = async function (this: unknown, ...args: unknown[]) {
        const startMs = nowMs();
        const result: unknown = await (original as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        calls.push({ name, startMs, endMs: nowMs(), firstArg: args[0], result, tag });
        probe.onResult?.(name, result);
        return result;
      };
      this.#restores.push(() => {
        record[method] = original;
      });
    }
  }

  /** Called after each recorded call, e.g. to wrap a sandbox the driver returned. */
  onResult: ((name: string, result: unknown) => void) | undefined;

  /** Calls recorded in [fromMs, toMs]. */
  between(fromMs: number, toMs: number): ProbedCall[] {
    return this.calls.filter((c) => c.startMs >= fromMs && c.endMs <= toMs);
  }

  restore(): void {
    for (const undo of this.#restores.splice(0).reverse()) undo();
  }
}

/** Total and count per method name, divided by `per` (e.g. steps). */
export function totalsByName(calls: readonly ProbedCall[], per = 1): Record<string, { calls_per_unit: number; ms_per_unit: number; p50_ms: number }> {
  const groups = new Map<string, number[]>();
  for (const call of calls) {
    const list = groups.get(call.name) ?? [];
    list.push(call.endMs - call.startMs);
    groups.set(call.name, list);
  }
  const out: Record<string, { calls_per_unit: number; ms_per_unit: number; p50_ms: number }> = {};
  for (const [name, durations] of [...groups.entries()].sort()) {
    const sorted = [...durations].sort((a, b) => a - b);
    out[name] = {
      calls_per_unit: Math.round((durations.length / per) * 100) / 100,
      ms_per_unit: Math.round((durations.reduce((s, d) => s + d, 0) / per) * 100) / 100,
      p50_ms: Math.round((sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN) * 100) / 100,
    };
  }
  return out;
}
