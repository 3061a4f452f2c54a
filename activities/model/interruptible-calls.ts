/**
 * The model calls this worker process is running, so an interrupt can stop one at once and
 * new input can end a run of steps early. Temporal tells a running activity of its
 * cancellation only with the answer to a heartbeat, and the SDK sends heartbeats at most
 * every 80% of the heartbeat timeout (24 s at 30 s): a user's interrupt waited that long for
 * a model call to stop. The interrupt's own activity (`interruptTools`) reaches the call
 * here instead: directly when it runs on the same worker, through the store's notification
 * (`askRunningCall`) from another; Temporal's cancellation still follows with a heartbeat.
 *
 * A call is registered under its first step's key for as long as it runs, however many
 * steps it goes on to take (`runSteps`). A yield asked for a call not (yet) running here is
 * kept a while: the workflow's `yieldSteps` may be picked up before the call it is about.
 */
export class InterruptibleCalls {
  readonly #calls = new Map<string, RunningCall>();
  /** Yields asked for calls that were not running here, by key, with when they are forgotten. */
  readonly #earlyYields = new Map<string, number>();

  /** Registers a call for as long as `run` takes; `run` gets what an interrupt or a yield changes. */
  async run<T>(logId: string, callKey: string, run: (call: RunningCall) => Promise<T>): Promise<T> {
    const key = keyOf(logId, callKey);
    const call = new RunningCall(callKey);
    if (this.#earlyYields.delete(key)) call.yieldRequested = true;
    this.#calls.set(key, call);
    try {
      return await run(call);
    } finally {
      if (this.#calls.get(key) === call) this.#calls.delete(key);
    }
  }

  /** Stops the call if this process runs it: the key of the step it was on, or undefined when it does not run here. */
  interrupt(logId: string, callKey: string): string | undefined {
    const call = this.#calls.get(keyOf(logId, callKey));
    call?.interrupt();
    return call?.currentKey;
  }

  /**
   * Asks the call to take no step after the one it is on; false when it does not run here
   * (then a call of that key that starts here within `EARLY_YIELD_TTL_MS` takes one step).
   */
  yieldAfterStep(logId: string, callKey: string, now = Date.now()): boolean {
    const key = keyOf(logId, callKey);
    const call = this.#calls.get(key);
    if (call !== undefined) {
      call.yieldRequested = true;
      return true;
    }
    for (const [early, forgetAt] of this.#earlyYields) if (forgetAt <= now) this.#earlyYields.delete(early);
    // Most are for calls that ran elsewhere, or that ended before the yield came: a bounded few.
    if (this.#earlyYields.size < MAX_EARLY_YIELDS) this.#earlyYields.set(key, now + EARLY_YIELD_TTL_MS);
    return false;
  }
}

/** How long a yield waits for its call to start here. */
export const EARLY_YIELD_TTL_MS = 60_000;
const MAX_EARLY_YIELDS = 10_000;

/** One registered call: the step it is on, and whether it was interrupted or asked to yield. */
export class RunningCall {
  readonly #controller = new AbortController();
  /** The key of the step the call is on. */
  currentKey: string;
  /** Set when the workflow has input for the next step: the call stops after this one. */
  yieldRequested = false;

  constructor(callKey: string) {
    this.currentKey = callKey;
  }

  get interrupted(): AbortSignal {
    return this.#controller.signal;
  }

  interrupt(): void {
    this.#controller.abort();
  }
}

const keyOf = (logId: string, callKey: string) => `${logId}\u0000${callKey}`;
