/**
 * Schemathesis throws generated requests (a fixed seed, a bounded number per operation)
 * at every operation of `/openapi.json`, on the real API and store: no answer may be a
 * 5xx. Sessions it creates have agents that only talk; the one sandbox it starts is the one
 * its file resource is copied into. Path ids are real resources made first, so requests
 * reach the code behind the lookups.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { toFile } from '@anthropic-ai/sdk';
import { text } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { API_KEY, startApiFixture, type ApiFixture } from './api-fixture.ts';

const run = promisify(execFile);
const st = join(import.meta.dirname, '..', '..', '.cache', 'schemathesis', 'bin', 'st');

let temporal: DevServer;
let f: ApiFixture;
before(async () => {
  temporal = await startTestTemporal();
  f = await startApiFixture({ temporal, script: () => ({ content: [text('ok')] }) });
});
after(async () => {
  await f?.[Symbol.asyncDispose]();
  await temporal?.stop();
});

test('generated requests against every operation get no 5xx', { timeout: 600_000 }, async () => {
  assert.ok(existsSync(st), 'schemathesis is missing: run `LONGHAUL_SETUP_PYTHON_SDK=1 bash scripts/setup.sh`');
  const args = [
    'run',
    `${f.api.url}/openapi.json`,
    '--url',
    f.api.url,
    '--header',
    `x-api-key: ${API_KEY}`,
    '--checks',
    'not_a_server_error',
    '--phases',
    'examples,coverage,fuzzing',
    '--max-examples',
    '15',
    '--seed',
    '20261202',
    // One worker, so hypothesis runs in the main thread: with two, a CI run once failed
    // inside hypothesis itself (CPython's "AST constructor recursion depth mismatch" while
    // building a deep strategy), not in the API. As fast here, and one source of variance less.
    '--workers',
    '1',
    '--request-timeout',
    '30',
    '--generation-allow-x00',
    'true',
    '--no-color',
  ];
  // In a scratch folder: schemathesis leaves its reports where it runs, and reads its config there.
  const scratch = await mkdtemp(join(tmpdir(), 'longhaul-fuzz-'));
  await writeFile(join(scratch, 'schemathesis.toml'), configWithRealIds(await realResources(f)));
  const result = await run(st, args, { cwd: scratch, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_HOOKS: '' } }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? -1, stdout: `${error.stdout ?? ''}\n${error.stderr ?? ''}` }),
  );
  await rm(scratch, { recursive: true, force: true });
  assert.equal(result.code, 0, `schemathesis found failures:\n${result.stdout.slice(-8000)}`);
  // It ran: both phases tested every operation.
  assert.match(result.stdout, /Coverage \(in [\d.]+s\)\s+✅ \d+ passed/);
  assert.match(result.stdout, /Fuzzing \(in [\d.]+s\)\s+✅ \d+ passed/);
});

/**
 * One of each resource, so generated requests reach past the 404 of an unknown id into the
 * code behind it (a session's events, a file's content, a vault's credentials). Operations
 * that delete or archive them run too; what follows them then meets a 404, which is fine.
 */
async function realResources(f: ApiFixture): Promise<Record<string, string>> {
  const agent = await f.client.beta.agents.create({ name: 'fuzzed', model: 'claude-sonnet-5-5' });
  const environment = await f.client.beta.environments.create({ name: 'fuzzed' });
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  const file = await f.client.beta.files.upload({ file: await toFile(Buffer.from('fuzz\n'), 'fuzz.txt') });
  const resource = await f.client.beta.sessions.resources.add(session.id, { type: 'file', file_id: file.id });
  const vault = await f.client.beta.vaults.create({ display_name: 'fuzzed' });
  const credential = await f.client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', token: 'fuzz-token', mcp_server_url: 'https://mcp.example.com/mcp' } });
  return {
    agent_id: agent.id,
    environment_id: environment.id,
    session_id: session.id,
    file_id: file.id,
    resource_id: resource.id,
    vault_id: vault.id,
    credential_id: credential.id,
  };
}

function configWithRealIds(ids: Record<string, string>): string {
  return `[parameters]\n${Object.entries(ids).map(([name, id]) => `"path.${name}" = "${id}"`).join('\n')}\n`;
}
