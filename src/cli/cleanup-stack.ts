import type { Terminal } from './output.ts';

/**
 * What a long-running command has started, stopped in reverse order on the way
 * out. A step that fails is reported and the rest still run.
 */
export class CleanupStack {
  readonly #steps: { name: string; run: () => Promise<unknown> }[] = [];
  readonly #terminal: Terminal;

  constructor(terminal: Terminal) {
    this.#terminal = terminal;
  }

  push(name: string, run: () => Promise<unknown>): void {
    this.#steps.push({ name, run });
  }

  /** Runs every step, newest first; resolves to false if any failed. */
  async runAll(): Promise<boolean> {
    let clean = true;
    for (const { name, run } of this.#steps.splice(0).reverse()) {
      await run().catch((error: unknown) => {
        clean = false;
        this.#terminal.error(`while stopping the ${name}: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
    return clean;
  }
}
