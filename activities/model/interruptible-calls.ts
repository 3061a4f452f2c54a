/**
 * The model calls this worker process is running, so an interrupt can stop one at once and
 * new input can end a run of steps early. Temporal tells a running activity of its
 * cancellation only with the answer to a heartbeat, and the SDK sends heartbeats at most
 * every 80% of the heartbeat timeout (24 s at 30 s): a user's interrupt waited that long for
 * a model call to stop. The interrupt's own activity (`interruptTools`) reaches the call
 * here instead, when it runs on the same worker; on another, the heartbeat still delivers it.
 *
 * A call is registered under its first step's key for as long as it runs, however many
 * steps it goes on to take (`runSteps`).
 */
export class InterruptibleCalls {
  readonly #calls = new Map<string, RunningCall>();

  /** Registers a call for as long as `run` takes; `run` gets what an interrupt or a yield changes. */
  async run<T>(logId: string, callKey: string, run: (call: RunningCall) => Promise<T>): Promise<T> {
    const key = keyOf(logId, callKey);
    const call = new RunningCall(callKey);
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

  /** Asks the call to take no step after the one it is on; false when it does not run here. */
  yieldAfterStep(logId: string, callKey: string): boolean {
    const call = this.#calls.get(keyOf(logId, callKey));
    if (call !== undefined) call.yieldRequested = true;
    return call !== undefined;
  }
}

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
