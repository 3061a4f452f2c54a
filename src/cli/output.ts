/**
 * The CLI's terminal output: lines on stdout (coloured only when stdout is a terminal
 * and NO_COLOR is unset), errors on stderr, and a spinner on stderr that exists only
 * when stderr is a terminal, so piped or CI output carries no escape codes.
 */
import { styleText } from 'node:util';
import ora, { type Ora } from 'ora';
import type { RenderedLine, Tone } from './render-event.ts';

type StyleFormat = Parameters<typeof styleText>[0];

const TONE_STYLE: Readonly<Record<Tone, StyleFormat | undefined>> = {
  plain: undefined,
  dim: 'dim',
  user: 'cyan',
  agent: undefined,
  tool: 'blue',
  ok: 'green',
  warn: 'yellow',
  error: 'red',
  heading: 'bold',
};

export type TerminalOptions = {
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
};

export class Terminal {
  readonly #stdout: NodeJS.WriteStream;
  readonly #stderr: NodeJS.WriteStream;
  #spinner: Ora | undefined;

  constructor({ stdout = process.stdout, stderr = process.stderr }: TerminalOptions = {}) {
    this.#stdout = stdout;
    this.#stderr = stderr;
  }

  /** Prints lines on stdout, keeping a running spinner below them. */
  print(lines: readonly RenderedLine[]): void {
    if (lines.length === 0) return;
    this.#withSpinnerHidden(() => {
      for (const line of lines) this.#stdout.write(`${this.#style(line.tone, line.text, this.#stdout)}\n`);
    });
  }

  line(text: string, tone: Tone = 'plain'): void {
    this.print([{ tone, text }]);
  }

  /** Prints raw text on stdout (JSON lines): never styled. */
  raw(text: string): void {
    this.#withSpinnerHidden(() => this.#stdout.write(`${text}\n`));
  }

  /** A message on stderr. */
  error(text: string): void {
    this.#withSpinnerHidden(() => this.#stderr.write(`${this.#style('error', text, this.#stderr)}\n`));
  }

  /** A note on stderr, for what must not mix with stdout (JSON lines). */
  note(text: string): void {
    this.#withSpinnerHidden(() => this.#stderr.write(`${this.#style('dim', text, this.#stderr)}\n`));
  }

  warn(text: string): void {
    this.#withSpinnerHidden(() => this.#stderr.write(`${this.#style('warn', text, this.#stderr)}\n`));
  }

  /** Shows the spinner with `text`, or hides it for null. A no-op when stderr is not a terminal. */
  spinner(text: string | null): void {
    // A pseudo-terminal with no width (some CI runners, `script` without a terminal) makes ora
    // compute an endless number of lines to clear; no spinner there.
    if (!this.#stderr.isTTY || !(this.#stderr.columns > 0)) return;
    if (text === null) {
      this.#spinner?.stop();
      this.#spinner = undefined;
      return;
    }
    if (this.#spinner) {
      this.#spinner.text = text;
      return;
    }
    this.#spinner = ora({ text, stream: this.#stderr, discardStdin: false }).start();
  }

  #withSpinnerHidden(write: () => void): void {
    const spinning = this.#spinner;
    if (spinning) spinning.clear();
    write();
    if (spinning) spinning.render();
  }

  #style(tone: Tone, text: string, stream: NodeJS.WriteStream): string {
    const format = TONE_STYLE[tone];
    return format ? styleText(format, text, { stream }) : text;
  }
}
