import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript, QUICKSTART_TASK } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { QUICKSTART_TURN_EVENT_TYPES } from '../support/quickstart-events.ts';
import { API_KEY, startApiFixture } from './api-fixture.ts';

// The Python `anthropic` package shares the wire format; setup installs the newest version Longhaul
// tracks and the oldest it supports with LONGHAUL_SETUP_PYTHON_SDK=1, and every script runs on both.
const PYTHONS = [
  { label: 'newest', python: new URL('../../.cache/python-sdk/bin/python', import.meta.url).pathname },
  { label: 'oldest supported', python: new URL('../../.cache/python-sdk-oldest/bin/python', import.meta.url).pathname },
];
const script = new URL('./python/quickstart.py', import.meta.url).pathname;
const multiagentScript = new URL('./python/multiagent.py', import.meta.url).pathname;
const routinesScript = new URL('./python/routines.py', import.meta.url).pathname;
const memoryScript = new URL('./python/memory.py', import.meta.url).pathname;
const dreamsScript = new URL('./python/dreams.py', import.meta.url).pathname;
const skillsScript = new URL('./python/skills.py', import.meta.url).pathname;

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

for (const { label, python } of PYTHONS) {
  test(`the README quickstart in Python, through the official anthropic package, against the API (Python SDK, ${label})`, async () => {
    assert.ok(existsSync(python), 'the Python SDK is missing: run LONGHAUL_SETUP_PYTHON_SDK=1 bash scripts/setup.sh');
    await using f = await startApiFixture({ temporal, script: demoAgentScript });
    const { stdout } = await promisify(execFile)(python, [script], {
      env: { ...process.env, BASE_URL: f.api.url, API_KEY, TASK: QUICKSTART_TASK },
      timeout: 120_000,
    });
    const lines = stdout.trim().split('\n');
    const types = lines.slice(0, QUICKSTART_TURN_EVENT_TYPES.length);
    assert.deepEqual(types, [...QUICKSTART_TURN_EVENT_TYPES]);
    assert.ok(lines.includes(`listed ${QUICKSTART_TURN_EVENT_TYPES.length}`), stdout);
    assert.ok(lines.some((l) => /^bad request: name/.test(l)), stdout);
    assert.match(lines.at(-1) ?? '', /^final: .*largest prime is 229.*sum of all 50 primes is 5117/);
  });

  test(`agents with multiagent, the roster a session snapshots and its threads parse in the Python SDK with strict response validation (Python SDK, ${label})`, async () => {
    assert.ok(existsSync(python), 'the Python SDK is missing: run LONGHAUL_SETUP_PYTHON_SDK=1 bash scripts/setup.sh');
    await using f = await startApiFixture({ temporal, script: demoAgentScript });
    const { stdout } = await promisify(execFile)(python, [multiagentScript], { env: { ...process.env, BASE_URL: f.api.url, API_KEY }, timeout: 120_000 });
    const [coordinator, subagents, session, threads] = stdout.trim().split('\n');
    assert.match(coordinator ?? '', /^coordinator agent_\w+@1,agent_\w+@1$/);
    assert.equal(subagents, 'multiagent_20261001 enabled disabled disabled');
    assert.equal(session, 'session coordinator specialist,coordinator');
    assert.equal(threads, 'threads 1 session_thread None idle coordinator 0', 'the primary thread parses as a SessionThread; its log is the session\'s');
  });

  test(`deployments, their runs and a webhook verified by unwrap, in the Python SDK with strict response validation (Python SDK, ${label})`, async () => {
    assert.ok(existsSync(python), 'the Python SDK is missing: run LONGHAUL_SETUP_PYTHON_SDK=1 bash scripts/setup.sh');
    await using f = await startApiFixture({ temporal, script: demoAgentScript });
    const { stdout } = await promisify(execFile)(python, [routinesScript], { env: { ...process.env, BASE_URL: f.api.url, API_KEY }, timeout: 120_000 });
    assert.deepEqual(stdout.trim().split('\n'), [
      'deployment active 0 8 * * 1-5 5',
      'bad request: schedule.expression: day-of-week field "8": 8 is outside 0–7',
      'paused paused manual 0',
      'run manual None True',
      'runs True',
      'webhook event session.created True',
    ]);
  });

  test(`memory stores, memories and versions in the Python SDK with strict response validation (Python SDK, ${label})`, async () => {
    assert.ok(existsSync(python), 'the Python SDK is missing: run LONGHAUL_SETUP_PYTHON_SDK=1 bash scripts/setup.sh');
    await using f = await startApiFixture({ temporal, script: demoAgentScript });
    const { stdout } = await promisify(execFile)(python, [memoryScript], { env: { ...process.env, BASE_URL: f.api.url, API_KEY }, timeout: 120_000 });
    assert.deepEqual(stdout.trim().split('\n'), [
      'created /team/process.md None 8',
      'retrieved Wednesdays',
      "listed ['memory_prefix:/team/', 'memory:/top.md']",
      "versions ['modified', 'created'] True api_actor",
      'conflict: memory_precondition_failed_error',
      'redacted None api_actor',
    ]);
  });

  test(`memory store resources and dreams in the Python SDK with strict response validation (Python SDK, ${label})`, async () => {
    assert.ok(existsSync(python), 'the Python SDK is missing: run LONGHAUL_SETUP_PYTHON_SDK=1 bash scripts/setup.sh');
    await using f = await startApiFixture({ temporal, script: demoAgentScript });
    const { stdout } = await promisify(execFile)(python, [dreamsScript], { env: { ...process.env, BASE_URL: f.api.url, API_KEY }, timeout: 180_000 });
    assert.deepEqual(stdout.trim().split('\n'), [
      'resource memory_store /mnt/memory/team-notes read_only Team Notes Read it first.',
      'filtered True',
      'created pending claude-sonnet-4-5 standard create_new []',
      'ended completed 1 True True',
      'listed True',
      'cancel refused: invalid_request_error',
      'archived True',
    ]);
  });

  test(`skills and their versions in the Python SDK with strict response validation: upload, list, a version, the zip download, a refused upload, deletes (Python SDK, ${label})`, async () => {
    assert.ok(existsSync(python), 'the Python SDK is missing: run LONGHAUL_SETUP_PYTHON_SDK=1 bash scripts/setup.sh');
    await using f = await startApiFixture({ temporal, script: demoAgentScript });
    const { stdout } = await promisify(execFile)(python, [skillsScript], { env: { ...process.env, BASE_URL: f.api.url, API_KEY }, timeout: 120_000 });
    assert.deepEqual(stdout.trim().split('\n'), [
      'created skill Python tool custom True',
      'version py-tool Made from Python. True',
      'listed 1',
      'versions True',
      "archive ['py-tool/SKILL.md', 'py-tool/scripts/run.py'] True",
      'bad request: files: py-tool/SKILL.md is missing (every skill has a SKILL.md at the top of its folder)',
      'deleted skill_version_deleted skill_deleted',
    ]);
  });
}
