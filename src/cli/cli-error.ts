/**
 * A failure the user can act on: the CLI prints its message (one line, saying what
 * is wrong and what to do) without a stack trace, and exits with `exitCode`.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, { exitCode = 1, cause }: { exitCode?: number; cause?: unknown } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.exitCode = exitCode;
  }
}
