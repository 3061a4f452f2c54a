/** Whose container start it is: a session waiting for its sandbox goes before a warm pool refill. */
export type StartPriority = 'session' | 'refill';

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
  readonly #waiting: Record<StartPriority, (() => void)[]> = { session: [], refill: [] };

  constructor({ concurrency }: { concurrency: number }) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrent container starts must be a whole number of at least 1, not ${concurrency}`);
    this.#concurrency = concurrency;
  }

  /** Starts waiting for a turn now. */
  get waiting(): number {
    return this.#waiting.session.length + this.#waiting.refill.length;
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
    if (this.#running < this.#concurrency) {
      this.#running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting[priority].push(resolve));
  }

  #done(): void {
    // The turn passes straight to the next waiter, so nobody can slip in between.
    const next = this.#waiting.session.shift() ?? this.#waiting.refill.shift();
    if (next !== undefined) next();
    else this.#running -= 1;
  }
}
