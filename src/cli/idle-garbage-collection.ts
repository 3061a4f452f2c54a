import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What a collector reads and does; the defaults are the process's own. */
export type IdleCollectorProbes = {
  /**
   * Bytes the main thread's heap holds from the system: live objects, garbage, and pages V8
   * emptied but kept. Not only what is in use: after a burst V8's own collections bring that
   * down while the pages stay resident.
   */
  heapBytes: () => number;
  /** Share of the time since the last call that the event loop was busy (0–1). */
  loopUtilization: () => number;
  /** A full garbage collection, now. */
  collect: () => void;
};

export type IdleCollectorOptions = {
  /** How often to look, ms (also how long the loop must have been quiet). */
  everyMs?: number;
  /** The loop counts as quiet below this utilisation. */
  quietBelow?: number;
  /** Collect only when the heap's pages grew this much since the last collection, bytes. */
  minGrowthBytes?: number;
};

/**
 * One look at the process: collects when the loop was quiet since the last look and the
 * heap grew enough since the last collection. Returns whether it collected.
 */
export class IdleCollector {
  readonly #probes: IdleCollectorProbes;
  readonly #quietBelow: number;
  readonly #minGrowthBytes: number;
  /** Nothing collected yet: the first quiet look collects what start-up left behind. */
  #afterLastCollection = 0;

  constructor(probes: IdleCollectorProbes, { quietBelow = 0.05, minGrowthBytes = 32 * 1024 * 1024 }: Omit<IdleCollectorOptions, 'everyMs'> = {}) {
    this.#probes = probes;
    this.#quietBelow = quietBelow;
    this.#minGrowthBytes = minGrowthBytes;
  }

  tick(): boolean {
    if (this.#probes.loopUtilization() >= this.#quietBelow) return false;
    const held = this.#probes.heapBytes();
    // A heap that shrank on its own was given back by V8 meanwhile: measure growth from there.
    if (held < this.#afterLastCollection) this.#afterLastCollection = held;
    if (held - this.#afterLastCollection < this.#minGrowthBytes) return false;
    this.#probes.collect();
    this.#afterLastCollection = this.#probes.heapBytes();
    return true;
  }
}

/**
 * Gives a burst's garbage back once the process goes quiet. V8 makes a full collection
 * only when allocation calls for one, so an engine that goes idle after a burst keeps its
 * garbage for as long as it stays idle: after 50 sessions of 20 steps, `longhaul dev` sat at
 * 560 MiB with 224 MiB of heap in use, and at 384 MiB (83 MiB of heap, 0.5 MiB per idle
 * session above start-up) after one collection that also gave the freed pages back. The
 * collection runs only while nothing else does: the loop quiet for a whole look (2 s by
 * default) and the heap's resident pages grown by 32 MiB since the last one (the first
 * quiet look after start-up collects what start-up left); it pauses the loop for tens of
 * milliseconds per 100 MiB. Pages, not objects in use: V8's own collections during a burst
 * leave little in use and the pages resident.
 *
 * @example
 * const idleGc = collectGarbageWhenIdle();
 * // … on shutdown:
 * idleGc.stop();
 */
export function collectGarbageWhenIdle({ everyMs = 2000, ...options }: IdleCollectorOptions = {}): { stop(): void } {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const collector = new IdleCollector(
    {
      heapBytes: () => getHeapStatistics().total_physical_size,
      loopUtilization: () => {
        const now = performance.eventLoopUtilization();
        const { utilization } = performance.eventLoopUtilization(now, last);
        last = now;
        return utilization;
      },
      collect: exposedGc(),
    },
    options,
  );
  const timer = setInterval(() => collector.tick(), everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * A full, compacting collection that gives emptied pages back, without `--expose-gc` on the
 * command line: the flag is set for as long as a fresh context takes to be made, and its
 * `gc` kept. The flag is unset again at once, so no context made later (a workflow sandbox,
 * a worker thread) gets a `gc` global.
 */
export function exposedGc(): () => void {
  const existing = (globalThis as { gc?: ExposedGc }).gc;
  const gc = typeof existing === 'function' ? existing : gcFromFreshContext();
  // A plain `gc()` frees the objects but keeps their pages: a heap holding 4 MiB of live
  // objects stayed at 390 MiB resident. The last-resort collection (what V8 does under
  // memory pressure) compacts and gives the freed pages back to the operating system.
  return () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** V8's `gc` extension; the options object is how it asks for a last-resort collection. */
type ExposedGc = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

function gcFromFreshContext(): ExposedGc {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as ExposedGc;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
