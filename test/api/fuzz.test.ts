/**
 * Schemathesis throws generated requests at every operation of `/openapi.json`, on the real
 * API and store, and checks every answer against the document: no 5xx, and no status,
 * content type, header or body the document does not declare; schema-invalid requests must
 * be refused, unsupported methods answered 405 with `Allow`, requests without a key 401, a
 * deleted object gone, a created one there (every check Schemathesis has but one, below).
 * Two runs, each with a fixed seed:
 *
 * 1. examples, coverage and fuzzing: a bounded number of requests per operation, path ids
 *    being real resources made first, so requests reach the code behind the lookups;
 * 2. stateful: sequences that follow the document's OpenAPI links (create → retrieve, update
 *    or use → archive or delete → use again, for every resource), with no fixed path ids:
 *    every id comes from an earlier answer. Generated bodies name agents, environments,
 *    stores, sessions, a file and a vault the test made (a session needs an agent and an
 *    environment at once, which no single link gives).
 *
 * Sizes: `npm test` runs the short form: 15 examples per operation, then 20 seconds of
 * stateful scenarios of up to 10 steps (about a minute in all on an idle machine).
 * `LONGHAUL_FUZZ_LONG=1` runs the long form: 500 examples per operation, then 10 minutes of
 * scenarios of up to 20 steps (37 minutes on a busy 2-core machine, 2026-12-04: 32,904
 * test cases in the first run; 47,393, following 338 of the 396 links, in the second).
 * `LONGHAUL_FUZZ_SEED=<n>` changes the seed of either. Both fail on any failure, when a phase
 * did not run, and when the stateful run followed too few links.
 *
 * `positive_data_acceptance` is off: it wants every schema-valid request to succeed, but JSON
 * Schema cannot say what the API rightly refuses with 400 (an id that names nothing usable,
 * a page cursor the server did not issue, a cron expression, exactly one sessions input per
 * dream, an archived session taking no more events; the SDK documents these as 400s).
 * The settings are in `fuzz-config.ts`, with the few narrower exceptions and why.
 *
 * Sessions it creates have agents that only talk; sandboxes start for file resources and
 * dreams. The event streams get an archived session, whose stream closes at once.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { text } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { API_KEY, startApiFixture, type ApiFixture } from './api-fixture.ts';
import { pathIdsConfig, statefulConfig } from './fuzz-config.ts';
import { fuzzResources, statefulSeeds } from './fuzz-resources.ts';

const run = promisify(execFile);
const st = join(import.meta.dirname, '..', '..', '.cache', 'schemathesis', 'bin', 'st');

const LONG = process.env['LONGHAUL_FUZZ_LONG'] === '1';
const SEED = process.env['LONGHAUL_FUZZ_SEED'] ?? '20261202';
/**
 * `statefulSeconds` bounds the stateful phase (it repeats its suites of `statefulExamples`
 * scenarios until then); `minLinks` is how many distinct links it must have followed, a floor
 * well under what it follows here, against links that stop resolving.
 */
const SIZE = LONG
  ? { examples: 500, statefulExamples: 200, statefulSeconds: 600, maxSteps: 20, minLinks: 100, timeoutMs: 3 * 3600_000 }
  : { examples: 15, statefulExamples: 100, statefulSeconds: 20, maxSteps: 10, minLinks: 15, timeoutMs: 600_000 };

let temporal: DevServer;
let f: ApiFixture;
before(async () => {
  temporal = await startTestTemporal();
  // One attempt per webhook delivery: the endpoints it makes point nowhere, and a delivery retried
  // for an hour (the default) would keep the worker busy long after the run. Retries have tests of their own.
  f = await startApiFixture({ temporal, script: () => ({ content: [text('ok')] }), webhookRetry: { initialIntervalMs: 1000, maximumIntervalMs: 1000, maximumAttempts: 1 } });
});
after(async () => {
  await f?.[Symbol.asyncDispose]();
  await temporal?.stop();
});

test('examples, coverage and fuzzing of every operation: no 5xx, nothing the document does not declare', { timeout: SIZE.timeoutMs }, async (t) => {
  const { ids, streams } = await fuzzResources(f);
  // The document has no examples of its own, so the examples phase has nothing to run: not required.
  const report = await schemathesis({ phases: ['examples', 'coverage', 'fuzzing'], required: ['coverage', 'fuzzing'], maxExamples: SIZE.examples, config: pathIdsConfig(ids, streams) });
  assert.equal(report.operations.tested, report.operations.total, 'every operation was tested');
  t.diagnostic(summary(report));
});

test('stateful sequences along the OpenAPI links: no 5xx, nothing the document does not declare', { timeout: SIZE.timeoutMs }, async (t) => {
  const seeds = await statefulSeeds(f);
  const report = await schemathesis({ phases: ['stateful'], maxExamples: SIZE.statefulExamples, maxSeconds: SIZE.statefulSeconds, config: statefulConfig(seeds, { maxSteps: SIZE.maxSteps }) });
  assert.ok(report.links.covered >= SIZE.minLinks, `only ${report.links.covered} of ${report.links.total} links were followed`);
  t.diagnostic(summary(report));
});

type Phase = 'examples' | 'coverage' | 'fuzzing' | 'stateful';

/** What the JSON report says (`--report json`), with the links line of the output. */
type Report = {
  running_time: number;
  exit_code: number;
  phases: Record<Phase, { status: string; skip_reason: string | null }>;
  operations: { total: number; selected: number; tested: number };
  test_cases: { generated: number; with_failures: number };
  failures: unknown[];
  errors: unknown[];
  links: { covered: number; total: number };
  output: string;
};

/** Runs `st run` on the fixture's API and fails on any failure, or unless every phase in `required` (default: all of `phases`) ran and passed. */
async function schemathesis({
  phases,
  required = phases,
  maxExamples,
  maxSeconds,
  config,
}: {
  phases: Phase[];
  required?: Phase[];
  maxExamples: number;
  maxSeconds?: number | undefined;
  config: string;
}): Promise<Report> {
  assert.ok(existsSync(st), 'schemathesis is missing: run `LONGHAUL_SETUP_PYTHON_SDK=1 bash scripts/setup.sh`');
  // In a scratch folder: schemathesis reads its config there and leaves its reports and example database there.
  const scratch = await mkdtemp(join(tmpdir(), 'longhaul-fuzz-'));
  try {
    await writeFile(join(scratch, 'schemathesis.toml'), config);
    const args = [
      'run',
      `${f.api.url}/openapi.json`,
      '--url',
      f.api.url,
      '--header',
      `x-api-key: ${API_KEY}`,
      '--phases',
      phases.join(','),
      '--max-examples',
      String(maxExamples),
      ...(maxSeconds !== undefined ? ['--max-time', String(maxSeconds)] : []),
      '--seed',
      SEED,
      // One worker, so hypothesis runs in the main thread: with two, a CI run once failed
      // inside hypothesis itself (CPython's "AST constructor recursion depth mismatch" while
      // building a deep strategy), not in the API. As fast here, and one source of variance less.
      '--workers',
      '1',
      '--continue-on-failure',
      '--report',
      'json',
      '--report-json-path',
      join(scratch, 'report.json'),
      '--no-color',
    ];
    const result = await run(st, args, { cwd: scratch, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_HOOKS: '' } }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? -1, stdout: `${error.stdout ?? ''}\n${error.stderr ?? ''}` }),
    );
    assert.equal(result.code, 0, `schemathesis found failures:\n${result.stdout.slice(-12000)}`);
    const report = JSON.parse(await readFile(join(scratch, 'report.json'), 'utf8')) as Omit<Report, 'links' | 'output'>;
    const links = /API Links:\s+(\d+) covered \/ \d+ selected \/ (\d+) total/.exec(result.stdout);
    assert.deepEqual(report.failures, []);
    assert.deepEqual(report.errors, []);
    // It ran: each phase asked for finished, and passed.
    for (const phase of required) assert.equal(report.phases[phase].status, 'success', `${phase}: ${report.phases[phase].status} (${report.phases[phase].skip_reason ?? ''})\n${result.stdout.slice(-4000)}`);
    assert.ok(report.test_cases.generated > 0);
    return { ...report, links: { covered: Number(links?.[1] ?? 0), total: Number(links?.[2] ?? 0) }, output: result.stdout };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function summary(report: Report): string {
  const links = report.links.total > 0 ? `, ${report.links.covered}/${report.links.total} links followed` : '';
  return `${report.operations.tested}/${report.operations.total} operations, ${report.test_cases.generated} test cases${links}, ${report.running_time.toFixed(1)} s`;
}
