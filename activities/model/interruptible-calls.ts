/**
 * The model calls this worker process is streaming, so an interrupt can stop one at once.
 * Temporal tells a running activity of its cancellation only with the answer to a
 * heartbeat, and the SDK sends heartbeats at most every 80% of the heartbeat timeout (24 s
 * at 30 s): a user's interrupt waited that long for a model call to stop. The interrupt's
 * own activity (`interruptTools`) reaches the call here instead, when it runs on the same
 * worker; on another, the heartbeat still delivers it.
 */
export class InterruptibleCalls {
  readonly #calls = new Map<string, AbortController>();

  /** Registers a call for as long as `run` takes; `run` gets the signal an interrupt aborts. */
  async run<T>(logId: string, callKey: string, run: (interrupted: AbortSignal) => Promise<T>): Promise<T> {
    const key = keyOf(logId, callKey);
    const controller = new AbortController();
    this.#calls.set(key, controller);
    try {
      return await run(controller.signal);
    } finally {
      if (this.#calls.get(key) === controller) this.#calls.delete(key);
    }
  }

  /** Stops the call if this process runs it; false when it does not. */
  interrupt(logId: string, callKey: string): boolean {
    const controller = this.#calls.get(keyOf(logId, callKey));
    controller?.abort();
    return controller !== undefined;
  }
}

const keyOf = (logId: string, callKey: string) => `${logId}\u0000${callKey}`;
