/**
 * Runs test files for scripts/test.sh, each in a `node --test` of its own, in lanes:
 *
 *   node scripts/run-test-files.ts [node --test options] -- FILE...
 *
 * - Most files run in LONGHAUL_TEST_LANES lanes (default 2) at once: a file takes the next
 *   free lane, the longest known files first, so the lanes end together. Most of a file's
 *   time is waiting (Temporal timers, container starts, child processes), so two at once on
 *   two cores take far less than one after the other.
 * - ALONE files look at Docker as a whole (every container with some label, not only
 *   their own): they run last, one at a time, with nothing beside them.
 * - BESIDE files mostly wait for the wall clock: they start first and run beside the
 *   lanes without taking one.
 *
 * A file's output is held and printed whole when it ends, so files never interleave (one
 * file alone is shown as it runs). At the end: the counts of every file added up, the
 * failed files, and the slowest files with their wall time (from the file-times reporter).
 * Exits non-zero when any file failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Files that list or count Docker objects by a label every Longhaul sandbox carries: another file's would count. */
const ALONE = new Set(['test/integration/sandbox-packages.test.ts']);
/** Files that spend minutes waiting for the real clock (a cron schedule firing at minute boundaries) and little CPU. */
const BESIDE = new Set(['test/api/deployments.test.ts']);
/**
 * Files that take 20 s or more (measured on a 2-core machine), longest first: they start
 * first, so the short ones fill the lanes' ends. A file missing here only starts later.
 */
const LONGEST_FIRST = [
  'test/integration/no-leaks.test.ts',
  'test/api/fuzz.test.ts',
  'test/integration/chaos.test.ts',
  'test/cli/compose.test.ts',
  'test/api/python-sdk.test.ts',
  'test/cli/dev-two-instances.test.ts',
  'test/integration/session-usage-crash.test.ts',
  'test/api/outcomes.test.ts',
  'test/api/multiagent.test.ts',
  'test/api/console.test.ts',
  'test/integration/session-store.test.ts',
  'test/api/self-hosted.test.ts',
  'test/integration/pglite-thread-driver.test.ts',
  'test/integration/thread-crash.test.ts',
  'test/api/steering.test.ts',
];
/** How many of the slowest files the summary lists (LONGHAUL_TEST_TIMES_SHOWN=1000: all). */
const SHOWN = Number(process.env['LONGHAUL_TEST_TIMES_SHOWN'] ?? 15) || 15;
const COUNTS = ['tests', 'suites', 'passed', 'failed', 'cancelled', 'skipped', 'todo'] as const;
type Counts = Record<(typeof COUNTS)[number], number>;
type Done = { file: string; where: string; ms: number; ok: boolean; counts: Counts | undefined };

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const options = dash < 0 ? [] : argv.slice(0, dash);
const files = (dash < 0 ? argv : argv.slice(dash + 1)).map((f) => f.replace(/^\.\//, ''));
const lanes = Math.max(1, Number(process.env['LONGHAUL_TEST_LANES'] ?? 2) || 1);
const live = files.length === 1;
const scratch = mkdtempSync(join(tmpdir(), 'longhaul-test-files-'));
const running = new Set<ChildProcess>();
const done: Done[] = [];
const log = (line: string) => process.stdout.write(`[test] ${line}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of running) child.kill(signal);
    rmSync(scratch, { recursive: true, force: true });
    process.exit(130);
  });
}

/** Runs one file to its end; its output goes out whole afterwards (or as it comes, when it is the only file). */
function runFile(file: string, where: string): Promise<void> {
  const times = join(scratch, `${done.length}-${running.size}-${Date.now()}.jsonl`);
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      '--test',
      '--test-concurrency=1',
      '--test-timeout=600000',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=./test/support/file-times-reporter.ts',
      `--test-reporter-destination=${times}`,
      ...options,
      file,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  const output: Buffer[] = [];
  const take = (chunk: Buffer) => (live ? process.stdout.write(chunk) : output.push(chunk));
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child);
      const ms = performance.now() - started;
      let counts: Counts | undefined;
      try {
        for (const line of readFileSync(times, 'utf8').split('\n')) {
          if (!line) continue;
          const record = JSON.parse(line) as { counts?: Counts };
          if (record.counts) counts = record.counts;
        }
      } catch {
        // No report: the run died before its end; the exit status says so.
      }
      const ok = code === 0 && counts !== undefined && counts.failed === 0 && counts.cancelled === 0;
      done.push({ file, where, ms, ok, counts });
      const how = ok ? 'passed' : `FAILED (exit ${signal ?? code}${counts ? '' : ', no summary'})`;
      if (!live) {
        // The per-file totals are added up at the end; the rest goes out as the file wrote it.
        const text = Buffer.concat(output)
          .toString()
          .replace(/^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [\d.]+\n/gm, '');
        log(`── ${file} (${where}): ${how} in ${(ms / 1000).toFixed(1)} s`);
        process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
      }
      resolve();
    });
  });
}

const started = performance.now();
const alone = files.filter((f) => ALONE.has(f));
let beside = files.filter((f) => BESIDE.has(f));
let queue = files.filter((f) => !ALONE.has(f) && !BESIDE.has(f));
if (queue.length === 0) [queue, beside] = [beside, []];
const rank = (f: string) => {
  const i = LONGEST_FIRST.indexOf(f);
  return i < 0 ? LONGEST_FIRST.length : i;
};
queue.sort((a, b) => rank(a) - rank(b));

log(
  `running ${files.length} test file(s) in ${Math.min(lanes, queue.length)} lane(s)` +
    (beside.length ? `, ${beside.join(' ')} beside them` : '') +
    (alone.length ? `, then ${alone.join(' ')} alone` : ''),
);
const besideDone = Promise.all(beside.map((f) => runFile(f, 'beside')));
await Promise.all(
  Array.from({ length: Math.min(lanes, queue.length) }, async (_, lane) => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) await runFile(file, `lane ${lane + 1}`);
  }),
);
await besideDone;
for (const file of alone) await runFile(file, 'alone');
rmSync(scratch, { recursive: true, force: true });

const total = Object.fromEntries(COUNTS.map((k) => [k, done.reduce((sum, d) => sum + (d.counts?.[k] ?? 0), 0)])) as Counts;
const wallMs = performance.now() - started;
const failed = done.filter((d) => !d.ok);
if (!live) {
  process.stdout.write(
    `ℹ tests ${total.tests}\nℹ suites ${total.suites}\nℹ pass ${total.passed}\nℹ fail ${total.failed}\nℹ cancelled ${total.cancelled}\n` +
      `ℹ skipped ${total.skipped}\nℹ todo ${total.todo}\nℹ duration_ms ${wallMs.toFixed(0)}\n`,
  );
  const fileMs = done.reduce((sum, d) => sum + d.ms, 0);
  const slowest = [...done].sort((a, b) => b.ms - a.ms).slice(0, SHOWN);
  process.stdout.write(`slowest ${slowest.length} of ${done.length} test files (${(fileMs / 1000).toFixed(0)} s of file time in ${(wallMs / 1000).toFixed(0)} s):\n`);
  for (const d of slowest) process.stdout.write(`${(d.ms / 1000).toFixed(1).padStart(7)} s  ${d.file} (${d.where})\n`);
}
if (failed.length > 0) {
  for (const d of failed) log(`failed: ${d.file}`);
  process.exit(1);
}
