import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A host command that failed: its exit status (124: timed out) and what it wrote to stderr. */
export class HostCommandError extends Error {
  readonly status: number;
  readonly stderr: string;

  constructor(command: string, status: number, stderr: string) {
    super(`${command} exited with ${status}${stderr ? `: ${stderr}` : ''}`);
    this.name = 'HostCommandError';
    this.status = status;
    this.stderr = stderr;
  }
}

/**
 * Runs short host commands (mkfs, mount, umount) through one long-lived `sh`, which forks
 * each of them, instead of forking this process. Forking a worker of several hundred MiB,
 * with its WASM and V8 reservations, costs it about 20–30 ms of main-thread time a command
 * (measured: three a session, 4.4 s of 50 sessions' start-up); forking a shell costs
 * almost nothing. Commands run concurrently; each line the shell reads is one command,
 * its arguments single-quoted, so nothing in them is ever parsed by the shell.
 *
 * The shell ends when this process does (its stdin closes).
 */
export class HostCommands {
  readonly #timeoutSeconds: number;
  #shell: { child: ChildProcess; errors: string } | undefined;
  readonly #pending = new Map<number, { resolve: () => void; reject: (error: Error) => void; command: string }>();
  #nextId = 1;

  constructor({ timeoutSeconds = 60 }: { timeoutSeconds?: number } = {}) {
    this.#timeoutSeconds = timeoutSeconds;
  }

  /** Runs `file args…`; rejects with `HostCommandError` when it exits non-zero (124 when it ran past the timeout). */
  async run(file: string, args: readonly string[]): Promise<void> {
    // One command a line: a line break inside a word would split it.
    if ([file, ...args].some((word) => /[\n\0]/.test(word))) throw new Error(`a host command's words hold no line breaks or NULs: ${JSON.stringify([file, ...args])}`);
    const shell = this.#shellProcess();
    const id = this.#nextId++;
    const command = [file, ...args].join(' ');
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, command });
      this.#hold(shell.child, true);
      // `timeout` ends a command that hangs (a mount on a stuck device), and its kill after 5 s more.
      const line = ['timeout', '-k', '5', String(this.#timeoutSeconds), file, ...args].map(quote).join(' ');
      shell.child.stdin!.write(`${id} ${line}\n`);
    });
  }

  #shellProcess(): { child: ChildProcess; errors: string } {
    if (this.#shell) return this.#shell;
    const errors = mkdtempSync(join(tmpdir(), 'longhaul-host-commands-'));
    // Each command in a background subshell: its status comes back as one short line (one
    // write, so lines of commands ending together never interleave), its stderr in a file.
    // The shell removes the folder itself once its input ends: this process may be gone by
    // then (it never waits for the shell), and every process that ran a command left one.
    const script = 'while IFS= read -r line; do id=${line%% *}; ( eval "${line#* }" </dev/null >/dev/null 2>"$0/$id"; echo "$id $?" ) & done; wait; rm -rf -- "$0"';
    const child = spawn('sh', ['-c', script, errors], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.#hold(child, false);
    const shell = { child, errors };
    this.#shell = shell;
    createInterface({ input: child.stdout! }).on('line', (line) => void this.#settle(shell, line));
    const lost = (reason: string) => {
      if (this.#shell === shell) this.#shell = undefined;
      for (const [id, { reject, command }] of this.#pending) {
        this.#pending.delete(id);
        reject(new HostCommandError(command, -1, reason));
      }
      rmSync(errors, { recursive: true, force: true });
    };
    child.on('error', (error) => lost(`the command shell could not run: ${error.message}`));
    child.on('exit', (code, signal) => lost(`the command shell exited (${signal ?? code})`));
    child.stdin!.on('error', () => undefined);
    return shell;
  }

  /** The shell keeps this process alive only while a command runs. */
  #hold(child: ChildProcess, active: boolean): void {
    for (const handle of [child, child.stdin, child.stdout] as unknown as { ref?: () => void; unref?: () => void }[]) {
      if (active) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  async #settle(shell: { child: ChildProcess; errors: string }, line: string): Promise<void> {
    const [idText, statusText] = line.split(' ');
    const id = Number(idText);
    const waiting = this.#pending.get(id);
    if (!waiting) return;
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#hold(shell.child, false);
    const errorFile = join(shell.errors, String(id));
    // No file: the subshell could not even open it, and the status says enough.
    const stderr = (await readFile(errorFile, 'utf8').catch(() => '')).trim().slice(-4000);
    await rm(errorFile, { force: true });
    const status = Number(statusText);
    if (status === 0) waiting.resolve();
    else waiting.reject(new HostCommandError(waiting.command, status, stderr));
  }
}

/** One word for the shell, whatever it holds: single quotes, each `'` written as `'\''`. */
function quote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}
