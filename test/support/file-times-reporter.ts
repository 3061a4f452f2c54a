/**
 * A `node --test` reporter for where the suite's time goes and what it counted, as JSON
 * lines: `{"file", "ms"}` for each test file (files run one at a time in a run, so a file's
 * span runs from its first event to the next file's first event, its start-up and hooks
 * included), then `{"counts"}`, the run's totals (tests, passed, failed, skipped, ...).
 * scripts/run-test-files.ts runs each file with it and prints the slowest files and the
 * added-up counts of all of them at the end.
 */
import { relative } from 'node:path';

type TestEvent = { type: string; data?: { file?: string; counts?: Record<string, number> } };

export default async function* fileTimes(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const spans = new Map<string, number>();
  let current: { file: string; since: number } | undefined;
  let counts: Record<string, number> | undefined;
  const close = (now: number) => {
    if (current) spans.set(current.file, (spans.get(current.file) ?? 0) + (now - current.since));
  };
  for await (const event of source) {
    // The run's own summary (no file) comes last; each file's has its file.
    if (event.type === 'test:summary' && event.data?.file === undefined) counts = event.data?.counts;
    const file = event.data?.file && relative(process.cwd(), event.data.file);
    if (!file || file === current?.file) continue;
    const now = performance.now();
    close(now);
    current = { file, since: now };
  }
  close(performance.now());
  for (const [file, ms] of spans) yield `${JSON.stringify({ file, ms: Math.round(ms) })}\n`;
  if (counts) yield `${JSON.stringify({ counts })}\n`;
}
