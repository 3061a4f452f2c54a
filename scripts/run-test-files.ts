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
 *   their own) or need the whole machine for a phase bounded by the wall clock: they run
 *   last, one at a time, with nothing beside them.
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

/**
 * Files that must not share the machine: sandbox-packages counts Docker objects by a label
 * every package build carries (another file's would count); fuzz's stateful phase runs for a
 * fixed 20 s and must follow at least 15 OpenAPI links in them (beside another file on two
 * cores it followed 9).
 */
const ALONE = new Set(['test/integration/sandbox-packages.test.ts', 'test/api/fuzz.test.ts']);
/** Files that spend minutes waiting for the real clock (a cron schedule firing at minute boundaries) and little CPU. */
const BESIDE = new Set(['test/api/deployments.test.ts']);
/**
 * Files that take 20 s or more (measured in two lanes on a 2-core machine), longest first:
 * they start first, so the short ones fill the lanes' ends. A file missing here only starts later.
 */
const LONGEST_FIRST = [
  'test/integration/no-leaks.test.ts',
  'test/integration/chaos.test.ts',
  'test/api/python-sdk.test.ts',
  'test/integration/session-faults.test.ts',
  'test/cli/dev-two-instances.test.ts',
  'test/api/multiagent.test.ts',
  'test/api/outcomes.test.ts',
  'test/api/console.test.ts',
  'test/integration/session-store.test.ts',
  'test/cli/compose.test.ts',
  'test/integration/session-long.test.ts',
  'test/integration/session-usage-crash.test.ts',
  'test/api/steering.test.ts',
  'test/api/self-hosted.test.ts',
  'test/integration/thread-crash.test.ts',
  'test/api/webhooks.test.ts',
  'test/integration/credential-resolver.test.ts',
  'test/integration/pglite-thread-driver.test.ts',
  'test/api/dream-store.test.ts',
  'test/api/mcp.test.ts',
  'test/cli/serve-worker.test.ts',
  'test/integration/warm-pool.test.ts',
  'test/integration/session-worker-crash.test.ts',
  'test/integration/session-quickstart.test.ts',
  'test/cli/resource-cli.test.ts',
  'test/api/opentelemetry.test.ts',
  'test/integration/outcome-crash.test.ts',
  'test/integration/compaction-crash.test.ts',
  'test/api/session-delete.test.ts',
  'test/api/dreams.test.ts',
  'test/integration/memory-crash.test.ts',
  'test/cli/dev-run.test.ts',
  'test/unit/longhaul-plugin.test.ts',
  'test/integration/sandbox-attacks-agent.test.ts',
  'test/api/approval-crash.test.ts',
  'test/api/opentelemetry-metrics.test.ts',
  'test/integration/session-compaction.test.ts',
];
/** How many of the slowest files the summary lists (LONGHAUL_TEST_TIMES_SHOWN=1000: all). */
const SHOWN = Number(process.env['LONGHAUL_TEST_TIMES_SHOWN'] ?? 15) || 15;
/** How many lines of each failed file's failures the end of the run repeats. */
const FAILURE_LINES = 120;
const COUNTS = ['tests', 'suites', 'passed', 'failed', 'cancelled', 'skipped', 'todo'] as const;
type Counts = Record<(typeof COUNTS)[number], number>;
type Done = { file: string; where: string; ms: number; cpuMs: number; ok: boolean; counts: Counts | undefined; failures?: string };

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const options = dash < 0 ? [] : argv.slice(0, dash);
const files = (dash < 0 ? argv : argv.slice(dash + 1)).map((f) => f.replace(/^\.\//, ''));
const lanes = Math.max(1, Number(process.env['LONGHAUL_TEST_LANES'] ?? 2) || 1);
const live = files.length === 1;
const scratch = mkdtempSync(join(tmpdir(), 'longhaul-test-files-'));
const running = new Set<ChildProcess>();
// Every file's process (and the CLI processes tests start) loads much the same TypeScript:
// V8's compiled code, cached, saves about 0.6 s of CPU per process.
const env = { NODE_COMPILE_CACHE: join(process.cwd(), '.cache', 'node-compile-cache'), ...process.env };
const done: Done[] = [];
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const log = (line: string) => process.stdout.write(`[test] ${line}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const child of running) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // Ended already.
      }
    }
    rmSync(scratch, { recursive: true, force: true });
    process.exit(130);
  });
}

/**
 * What a failed file's output says went wrong, repeated after the summary: a long run's log
 * (CI keeps its tail) would otherwise show only that a file failed, its reasons hundreds of
 * lines up among other files' output. The spec reporter ends with a "failing tests" section;
 * a file that died before it has only its last lines to show.
 */
function failuresOf(text: string): string {
  const at = text.lastIndexOf('✖ failing tests:');
  const lines = (at < 0 ? text : text.slice(at)).trimEnd().split('\n');
  const shown = at < 0 ? lines.slice(-FAILURE_LINES) : lines.slice(0, FAILURE_LINES);
  return shown.join('\n') + (lines.length > FAILURE_LINES ? `\n… (${lines.length - FAILURE_LINES} more lines in the file's output above)` : '');
}

/** Runs one file to its end; its output goes out whole afterwards (or as it comes, when it is the only file). */
function runFile(file: string, where: string): Promise<void> {
  const times = join(scratch, `${done.length}-${running.size}-${Date.now()}.jsonl`);
  const started = performance.now();
  // bash's `times` gives the CPU time of the run and every process it waited for (not
  // containers'): how much of a file's wall time was work rather than waiting.
  const child = spawn(
    'bash',
    [
      '-c',
      '"$@" 3>&-; status=$?; times >&3; exit $status',
      'bash',
      process.execPath,
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
    // A group of its own, so a stop reaches the bash, the runner and the test process alike.
    { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true, env },
  );
  running.add(child);
  let cpuTimes = '';
  child.stdio[3]!.on('data', (d: Buffer) => (cpuTimes += d.toString()));
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
      // The second line of `times`: the children's user and system time, as 0m1.234s 0m0.567s.
      const cpuMs = (cpuTimes.split('\n')[1] ?? '')
        .split(' ')
        .map((t) => /^(\d+)m([\d.]+)s$/.exec(t))
        .reduce((sum, m) => sum + (m ? (Number(m[1]) * 60 + Number(m[2])) * 1000 : 0), 0);
      done.push({ file, where, ms, cpuMs, ok, counts, ...(ok ? {} : { failures: failuresOf(Buffer.concat(output).toString()) }) });
      const how = ok ? 'passed' : `FAILED (exit ${signal ?? code}${counts ? '' : ', no summary'})`;
      if (!live) {
        // The per-file totals are added up at the end; the rest goes out as the file wrote it.
        const text = Buffer.concat(output)
          .toString()
          .replace(/^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [\d.]+\n/gm, '');
        log(`── ${file} (${where}): ${how} in ${seconds(ms)} (cpu ${seconds(cpuMs)})`);
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
  for (const d of slowest) process.stdout.write(`${(d.ms / 1000).toFixed(1).padStart(7)} s  ${d.file} (${d.where}, cpu ${seconds(d.cpuMs)})\n`);
}
if (failed.length > 0) {
  if (!live) {
    for (const d of failed) {
      log(`── why ${d.file} failed (its whole output is above):`);
      process.stdout.write(`${d.failures ?? ''}\n`);
    }
  }
  for (const d of failed) log(`failed: ${d.file}`);
  process.exit(1);
}
