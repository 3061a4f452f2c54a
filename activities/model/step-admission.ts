import { availableParallelism } from 'node:os';
import type { WorkflowEvent } from '../../workflows/contract.ts';

export type StepAdmissionOptions = {
  /** Later steps (not a turn's first) that may run at once while a turn's first step is under way in this busy worker. */
  laterWhileOpening: number;
  /**
   * The longest a later step waits for its turn, at most `MAX_STEP_WAIT_MS`: a busy stream
   * of new turns never starves a running one.
   */
  maxWaitMs: number;
  /**
   * Whether the worker is busy now; only then do later steps wait. Default `eventLoopBusy()`:
   * steps that mostly wait for the model take nothing a new turn needs.
   */
  busy?: () => boolean;
};

/** Two later steps a core while a turn opens; none waits longer than a second. */
export const DEFAULT_STEP_ADMISSION: StepAdmissionOptions = { laterWhileOpening: 2 * availableParallelism(), maxWaitMs: 1000 };

/** A waiting step sends no heartbeat: its wait stays far below the model activities' heartbeat timeout (30 s). */
export const MAX_STEP_WAIT_MS = 10_000;

/**
 * Puts a turn's first step ahead of other sessions' later steps in this worker.
 *
 * A user who just sent a message waits for everything that step does: the model call, the
 * sandbox claim or start, the first tool call. Sessions already deep in a turn are not
 * watched the same way, and each of their steps is quick. When many turns begin at once
 * (a burst of new sessions), the running sessions' steps take the CPU the new ones need,
 * and the first answers come last. While any first step runs here and the worker is busy,
 * later steps therefore run at most `laterWhileOpening` at a time; the rest wait, for
 * `maxWaitMs` at most. With no first step under way, or a worker with time to spare (steps
 * waiting for a real model), every step runs at once.
 *
 * @example
 * const admission = new StepAdmission({ laterWhileOpening: 2, maxWaitMs: 1000 });
 * const result = await admission.run(opensTurn(input.leading), () => step(input), [interrupted]);
 */
export class StepAdmission {
  readonly #options: StepAdmissionOptions;
  readonly #busy: () => boolean;
  #opening = 0;
  #later = 0;
  /** Later steps waiting, oldest first; each is called once, with whether the caller counted it in. */
  readonly #waiting = new Set<(counted: boolean) => void>();

  constructor(options: StepAdmissionOptions) {
    if (!Number.isInteger(options.laterWhileOpening) || options.laterWhileOpening < 1) throw new RangeError(`later steps while a turn opens must be a whole number of at least 1, not ${options.laterWhileOpening}`);
    if (!(options.maxWaitMs >= 0 && options.maxWaitMs <= MAX_STEP_WAIT_MS)) throw new RangeError(`the longest wait of a later step must be from 0 to ${MAX_STEP_WAIT_MS} ms, not ${options.maxWaitMs}`);
    this.#options = options;
    this.#busy = options.busy ?? eventLoopBusy();
  }

  /** Steps running and waiting now. */
  get counts(): { opening: number; later: number; waiting: number } {
    return { opening: this.#opening, later: this.#later, waiting: this.#waiting.size };
  }

  /**
   * Runs a step: a turn's first at once, a later one when admitted. Any of `abandon` (an
   * interrupt, a cancellation) ends the wait early; the step then runs and sees it itself.
   */
  async run<T>(opening: boolean, step: () => Promise<T>, abandon: readonly AbortSignal[] = []): Promise<T> {
    if (opening) this.#opening += 1;
    else if (this.#admits()) this.#later += 1;
    else await this.#wait(abandon);
    try {
      return await step();
    } finally {
      if (opening) this.#opening -= 1;
      else this.#later -= 1;
      this.#admitWaiting();
    }
  }

  #admits(): boolean {
    return this.#opening === 0 || this.#later < this.#options.laterWhileOpening || !this.#busy();
  }

  /** Resolves once the step is counted in #later: admitted by a step that ended, or past its wait. */
  #wait(abandon: readonly AbortSignal[]): Promise<void> {
    return new Promise((resolve) => {
      const go = (counted: boolean) => {
        clearTimeout(timer);
        for (const signal of abandon) signal.removeEventListener('abort', late);
        this.#waiting.delete(go);
        if (!counted) this.#later += 1;
        resolve();
      };
      const late = () => go(false);
      const timer = setTimeout(late, this.#options.maxWaitMs);
      this.#waiting.add(go);
      if (abandon.some((signal) => signal.aborted)) return late();
      for (const signal of abandon) signal.addEventListener('abort', late, { once: true });
    });
  }

  /** Lets waiting steps go, oldest first, while #admits allows. */
  #admitWaiting(): void {
    for (const go of this.#waiting) {
      if (!this.#admits()) return;
      this.#later += 1;
      go(true);
    }
  }
}

/** Whether a step's leading events begin a turn (the session's or a thread's): its first model call carries the turn's running status. */
export function opensTurn(leading: readonly WorkflowEvent[]): boolean {
  return leading.some(({ event }) => event.type === 'session.status_running' || event.type === 'session.thread_status_running');
}

/**
 * Whether this thread's event loop was at work for at least `threshold` of the time since it
 * was last measured (measured at most every `windowMs`). A loop that has to be shared is one
 * where new turns wait for the old ones' work.
 */
export function eventLoopBusy({ threshold = 0.8, windowMs = 250 }: { threshold?: number; windowMs?: number } = {}): () => boolean {
  let mark = performance.eventLoopUtilization();
  let busy = false;
  return () => {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, mark);
    if (since.idle + since.active >= windowMs) {
      busy = since.utilization >= threshold;
      mark = now;
    }
    return busy;
  };
}
