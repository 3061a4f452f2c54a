/**
 * How many new sessions asked for one kind of sandbox at once, lately: the most asks that
 * fell within any `windowMs`, over the last `holdMs`. A warm pool that holds that many
 * serves the next burst of the same size warm; the window is about how long a burst
 * outruns the pool's refill (a start takes a few hundred milliseconds), so a steady trickle
 * of sessions counts as a few at once and fifty created together count as fifty.
 *
 * @example
 * const demand = new BurstDemand({ windowMs: 10_000, holdMs: 600_000 });
 * demand.ask(); demand.ask();
 * demand.peak(); // 2, until ten minutes after the second ask
 */
export class BurstDemand {
  readonly #windowMs: number;
  readonly #holdMs: number;
  /** Times of the asks within the hold, oldest first. */
  #asks: number[] = [];

  constructor({ windowMs, holdMs }: { windowMs: number; holdMs: number }) {
    this.#windowMs = windowMs;
    this.#holdMs = holdMs;
  }

  ask(now: number = performance.now()): void {
    this.#forget(now);
    this.#asks.push(now);
  }

  /** The most asks within one window, over the hold; 0 once every ask is older than the hold. */
  peak(now: number = performance.now()): number {
    this.#forget(now);
    let peak = 0;
    let first = 0;
    for (let last = 0; last < this.#asks.length; last += 1) {
      while (this.#asks[last]! - this.#asks[first]! > this.#windowMs) first += 1;
      peak = Math.max(peak, last - first + 1);
    }
    return peak;
  }

  #forget(now: number): void {
    const kept = this.#asks.findIndex((at) => now - at <= this.#holdMs);
    this.#asks.splice(0, kept === -1 ? this.#asks.length : kept);
  }
}
