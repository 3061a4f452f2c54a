/**
 * A `node --test` reporter for where the suite's time goes: each test file's wall time
 * (files run one at a time, so a file's span runs from its first event to the next file's
 * first event, its start-up and hooks included) and, at the end, the slowest files.
 * scripts/test.sh prints it after the spec reporter's output.
 */
import { relative } from 'node:path';

type TestEvent = { type: string; data?: { file?: string } };

const SHOWN = 15;

export default async function* fileTimes(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const spans = new Map<string, number>();
  let current: { file: string; since: number } | undefined;
  const close = (now: number) => {
    if (current) spans.set(current.file, (spans.get(current.file) ?? 0) + (now - current.since));
  };
  for await (const event of source) {
    const file = event.data?.file && relative(process.cwd(), event.data.file);
    if (!file || file === current?.file) continue;
    const now = performance.now();
    close(now);
    current = { file, since: now };
  }
  close(performance.now());
  const total = [...spans.values()].reduce((sum, ms) => sum + ms, 0);
  const slowest = [...spans].sort((a, b) => b[1] - a[1]).slice(0, SHOWN);
  yield `slowest ${slowest.length} of ${spans.size} test files (${(total / 1000).toFixed(0)} s in all):\n`;
  for (const [file, ms] of slowest) yield `${(ms / 1000).toFixed(1).padStart(7)} s  ${file}\n`;
}
