import { flushCompileCache } from 'node:module';
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

/**
 * Waits for a stop signal or a failure, then unwinds `cleanups`; resolves to the
 * exit code. `stopping` names what the command does on the way out ("stopping", "draining").
 */
export async function runUntilStopped({
  command,
  stopRequested,
  failed,
  cleanups,
  terminal,
  stopping = 'stopping',
}: {
  command: string;
  stopRequested: Promise<string>;
  failed: Promise<Error>[];
  cleanups: CleanupStack;
  terminal: Terminal;
  stopping?: string;
}): Promise<number> {
  // Everything start-up loads is compiled now: keep it for the next start (bin/longhaul.js), not only at a clean exit.
  flushCompileCache();
  const reason = await Promise.race([stopRequested, ...failed]);
  if (reason instanceof Error) {
    terminal.error(`${command}: ${reason.message}; shutting down`);
    await cleanups.runAll();
    return 1;
  }
  terminal.line(`${stopping} (${reason})…`, 'dim');
  const clean = await cleanups.runAll();
  terminal.line('stopped', 'dim');
  return clean ? 0 : 1;
}
