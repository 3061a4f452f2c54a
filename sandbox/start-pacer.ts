import { availableParallelism } from 'node:os';

/**
 * Container starts at once by default: four per core, at most 16. A start is mostly
 * dockerd, containerd and runc work; fewer at a time make a burst's first sandboxes ready
 * sooner, but while sessions that have theirs run steps the later starts get little of
 * the CPU. Medians of three alternating runs, 50 sessions of 20 steps created at once on
 * 2 cores (`BENCH_ONLY=concurrency BENCH_CONCURRENCY_STARTS=n`): 3 at a time gave the first
 * tool result at p50/p99 16.6/33.7 s (steps/s 26, step p99 0.9 s), 8 gave 12.8/25.1 s
 * (30, 1.9 s), 16 gave 13.8/25.7 s (25, 3.0 s).
 */
export function defaultConcurrentStarts(cores: number = availableParallelism()): number {
  return Math.min(16, 4 * Math.max(1, cores));
}

/** Whose container start it is: a session waiting for its sandbox goes before a warm pool refill. */
export type StartPriority = 'session' | 'refill';

/** A start refused because its pacer was stopped (`StartPacer.stop`): nothing was started. */
export class StartsStopped extends Error {
  override readonly name = 'StartsStopped';
}

type Waiter = { resolve: () => void; reject: (error: StartsStopped) => void };

/**
 * Lets at most `concurrency` container starts run at once; the rest wait their turn,
 * sessions' before the warm pool's. Fifty sessions created together would otherwise
 * start fifty containers at the same moment: dockerd, runc and fifty Python executors
 * fight for the same cores, and every session waits as long as the slowest.
 *
 * @example
 * const pacer = new StartPacer({ concurrency: 3 });
 * const started = await pacer.run('session', () => builder.start());
 */
export class StartPacer {
  readonly #concurrency: number;
  #running = 0;
  readonly #waiting: Record<StartPriority, Waiter[]> = { session: [], refill: [] };
  #stopped: StartsStopped | undefined;

  constructor({ concurrency }: { concurrency: number }) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrent container starts must be a whole number of at least 1, not ${concurrency}`);
    this.#concurrency = concurrency;
  }

  /** Starts waiting for a turn now. */
  get waiting(): number {
    return this.#waiting.session.length + this.#waiting.refill.length;
  }

  /** Refuses every start waiting for a turn, and every later one; those running go on. */
  stop(reason = 'container starts were stopped'): void {
    this.#stopped ??= new StartsStopped(reason);
    for (const waiter of [...this.#waiting.session.splice(0), ...this.#waiting.refill.splice(0)]) waiter.reject(this.#stopped);
  }

  async run<T>(priority: StartPriority, start: () => Promise<T>): Promise<T> {
    await this.#turn(priority);
    try {
      return await start();
    } finally {
      this.#done();
    }
  }

  #turn(priority: StartPriority): Promise<void> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    if (this.#running < this.#concurrency) {
      this.#running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#waiting[priority].push({ resolve, reject }));
  }

  #done(): void {
    // The turn passes straight to the next waiter, so nobody can slip in between.
    const next = this.#waiting.session.shift() ?? this.#waiting.refill.shift();
    if (next !== undefined) next.resolve();
    else this.#running -= 1;
  }
}
