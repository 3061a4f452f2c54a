/**
 * The resource commands as a user types them: the real `longhaul` binary as a child
 * process, against the HTTP API served over a real harness (Temporal dev server, store,
 * Docker sandboxes, scripted model), talking to it through the official SDK.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript, QUICKSTART_TASK } from '../../src/testing/index.ts';
import { API_KEY, startApiFixture, type ApiFixture } from '../api/api-fixture.ts';
import { startTestTemporal } from '../support/harness.ts';
import { cliEnv, runLonghaul, type LonghaulResult } from '../support/longhaul-cli.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('./fixtures/agent.yaml', import.meta.url));

let temporal: DevServer;
let fixture: ApiFixture;
let scratch: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  temporal = await startTestTemporal();
  fixture = await startApiFixture({ temporal, script: demoAgentScript });
  scratch = mkdtempSync(join(tmpdir(), 'longhaul-resource-cli-'));
  // An empty data folder: no `longhaul dev` is found, so the URL and key come from the environment.
  env = cliEnv({ LONGHAUL_BASE_URL: fixture.api.url, LONGHAUL_API_KEY: API_KEY, LONGHAUL_DATA_DIR: scratch });
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
  await temporal?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

async function longhaul(...args: string[]): Promise<LonghaulResult> {
  const result = await runLonghaul(args, { env });
  assert.equal(result.code, 0, `longhaul ${args.join(' ')} failed\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  return result;
}

function scratchFile(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

const createdId = (stdout: string, kind: string) => {
  const match = new RegExp(`^created ${kind} (\\S+)\\n$`).exec(stdout);
  assert.ok(match, `not a create line: ${stdout}`);
  return match[1]!;
};

test('agents and environments: create, list, get as JSON and YAML, archive', async () => {
  const agentId = createdId((await longhaul('agents', 'create', '--name', 'cli-coder', '--model', 'claude-sonnet-5-5', '--system', 'Be brief.')).stdout, 'agent');
  const environmentId = createdId((await longhaul('environments', 'create', '-f', scratchFile('env.json', JSON.stringify({ name: 'cli-env', description: 'from a file' })))).stdout, 'environment');

  const table = (await longhaul('agents', 'list')).stdout.split('\n');
  assert.match(table[0]!, /^ID +NAME +VERSION +MODEL +STATUS +UPDATED$/);
  assert.ok(table.some((line) => new RegExp(`^${agentId} +cli-coder +1 +claude-sonnet-5-5 +active `).test(line)), table.join('\n'));

  const asJson = JSON.parse((await longhaul('agents', 'get', agentId, '-o', 'json')).stdout) as { id: string; system: string; version: number };
  assert.deepEqual({ id: asJson.id, system: asJson.system, version: asJson.version }, { id: agentId, system: 'Be brief.', version: 1 });
  const asYaml = parse((await longhaul('environments', 'get', environmentId, '-o', 'yaml')).stdout) as { id: string; name: string; description: string };
  assert.deepEqual({ id: asYaml.id, name: asYaml.name, description: asYaml.description }, { id: environmentId, name: 'cli-env', description: 'from a file' });
  const listed = JSON.parse((await longhaul('environments', 'list', '-o', 'json')).stdout) as { id: string }[];
  assert.ok(listed.some((e) => e.id === environmentId));

  assert.equal((await longhaul('agents', 'archive', agentId)).stdout, `archived agent ${agentId}\n`);
  assert.equal((await longhaul('environments', 'archive', environmentId)).stdout, `archived environment ${environmentId}\n`);
  assert.doesNotMatch((await longhaul('agents', 'list')).stdout, new RegExp(agentId));
  assert.match((await longhaul('agents', 'list', '--all')).stdout, new RegExp(`^${agentId} +cli-coder +1 .* archived `, 'm'));
  assert.notEqual((await fixture.client.beta.environments.retrieve(environmentId)).archived_at, null);

  const vaultId = createdId((await longhaul('vaults', 'create', '--name', 'cli-vault')).stdout, 'vault');
  assert.match((await longhaul('vaults', 'list')).stdout, new RegExp(`^${vaultId} +cli-vault +active `, 'm'));
});

test('apply -f creates, re-applies as unchanged, and makes exactly one version per edit; get -o yaml round-trips', async () => {
  const first = await longhaul('apply', '-f', EXAMPLE);
  const lines = first.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2, first.stdout);
  assert.match(lines[0]!, /^environment "reviewer-env" \(env_\S+\) created$/);
  assert.match(lines[1]!, /^agent "reviewer" \((\S+) v1\) created$/);
  const agentId = /\((\S+) v1\)/.exec(lines[1]!)![1]!;
  const agent = await fixture.client.beta.agents.retrieve(agentId);
  assert.equal(agent.system, 'You review pull requests. Be brief and concrete.');
  assert.deepEqual(agent.metadata, { team: 'platform' });

  const again = await longhaul('apply', '-f', EXAMPLE);
  assert.match(again.stdout, /^environment "reviewer-env" \(\S+\) unchanged\nagent "reviewer" \(\S+ v1\) unchanged\n$/);
  assert.equal((await fixture.client.beta.agents.retrieve(agentId)).version, 1);

  // An edit: a new system prompt, a metadata key gone.
  const edited = readFileSync(EXAMPLE, 'utf8').replace('Be brief and concrete.', 'Be thorough.').replace(/metadata:\n {2}team: platform\n/, '');
  const editedPath = scratchFile('agent-edited.yaml', edited);
  assert.match((await longhaul('apply', '-f', editedPath)).stdout, new RegExp(`^environment "reviewer-env" \\(\\S+\\) unchanged\\nagent "reviewer" \\(${agentId} v2\\) updated\\n$`));
  assert.match((await longhaul('apply', '-f', editedPath)).stdout, new RegExp(`agent "reviewer" \\(${agentId} v2\\) unchanged\\n$`));
  const updated = await fixture.client.beta.agents.retrieve(agentId);
  assert.deepEqual({ version: updated.version, system: updated.system, metadata: updated.metadata }, { version: 2, system: 'You review pull requests. Be thorough.', metadata: {} });

  // What `get` prints is a document apply takes back as it is, by name or by id.
  const printed = (await longhaul('get', 'agent', 'reviewer', '-o', 'yaml')).stdout;
  const document = parse(printed) as { kind: string; name: string; system: string };
  assert.deepEqual({ kind: document.kind, name: document.name, system: document.system }, { kind: 'agent', name: 'reviewer', system: 'You review pull requests. Be thorough.' });
  assert.equal((await longhaul('get', 'agent', agentId)).stdout, printed);
  assert.equal((await longhaul('apply', '-f', scratchFile('round-trip.yaml', printed))).stdout, `agent "reviewer" (${agentId} v2) unchanged\n`);
  // …and creates the same agent where there is none of that name.
  const copied = (await longhaul('apply', '-f', scratchFile('copy.yaml', printed.replace('name: reviewer\n', 'name: reviewer-copy\n')))).stdout;
  assert.match(copied, /^agent "reviewer-copy" \(\S+ v1\) created\n$/);
  assert.equal((await longhaul('get', 'agent', 'reviewer-copy')).stdout, printed.replace('name: reviewer\n', 'name: reviewer-copy\n'));
  const environmentYaml = (await longhaul('get', 'environment', 'reviewer-env')).stdout;
  assert.match((await longhaul('apply', '-f', scratchFile('env-round-trip.yaml', environmentYaml))).stdout, /^environment "reviewer-env" \(\S+\) unchanged\n$/);
  assert.equal((await fixture.client.beta.agents.retrieve(agentId)).version, 2);

  // The README shows the file this test applies.
  assert.ok(readFileSync(join(root, 'README.md'), 'utf8').includes(readFileSync(EXAMPLE, 'utf8')), 'README.md shows test/cli/fixtures/agent.yaml as it is');
  assert.equal(parseAllDocuments(readFileSync(EXAMPLE, 'utf8')).length, 2);
});

test('sessions: create, list, get, and tail a scripted turn until idle', async () => {
  const agent = await fixture.client.beta.agents.create({ name: 'tail-coder', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await fixture.client.beta.environments.create({ name: 'tail-env' });
  const sessionId = createdId((await longhaul('sessions', 'create', '--agent', agent.id, '--environment', environment.id, '--title', 'tail me')).stdout, 'session');
  assert.match((await longhaul('sessions', 'list')).stdout, new RegExp(`^${sessionId} +idle +${agent.id} v1 +tail me `, 'm'));
  assert.equal((JSON.parse((await longhaul('sessions', 'get', sessionId, '-o', 'json')).stdout) as { status: string }).status, 'idle');

  // Tail first, then send: once it says it follows, what it prints comes over the live stream.
  const tail = spawn(process.execPath, [join(root, 'bin', 'longhaul.js'), 'sessions', 'tail', sessionId], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  tail.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  tail.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => tail.once('exit', resolve));
  try {
    while (!stderr.includes(`following ${sessionId}`)) {
      assert.equal(tail.exitCode, null, `tail exited early\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await fixture.client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: QUICKSTART_TASK }] }] });
    assert.equal(await exited, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
  } finally {
    if (tail.exitCode === null) tail.kill('SIGKILL');
  }
  const firstTaskLine = `› ${QUICKSTART_TASK.split('\n')[0]}`;
  assert.equal(stdout.split('\n').filter((line) => line === firstTaskLine).length, 1, stdout);
  assert.match(stdout, /^▸ bash \$ /m);
  assert.match(stdout, /229/);
  assert.match(stdout, /5117/);

  // Tailing the idle session now prints its log and stops at the turn's end.
  const again = await longhaul('sessions', 'tail', sessionId);
  assert.equal(again.stdout, stdout);
});

test('errors: a bad YAML and a missing file say which, an API error gives the API\'s message; all exit non-zero', async () => {
  const bad = scratchFile('bad.yaml', 'kind: agent\nname: [unclosed\n');
  const badYaml = await runLonghaul(['apply', '-f', bad], { env });
  assert.equal(badYaml.code, 2);
  assert.match(badYaml.stderr, new RegExp(`^longhaul: ${bad} is not valid YAML \\(document 1\\): `));

  const missing = await runLonghaul(['agents', 'create', '-f', join(scratch, 'nope.yaml')], { env });
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, `longhaul: no such file: ${join(scratch, 'nope.yaml')}\n`);

  const noModel = await runLonghaul(['apply', '-f', scratchFile('no-model.yaml', 'kind: agent\nname: broken\n')], { env });
  assert.equal(noModel.code, 1);
  assert.match(noModel.stderr, /^longhaul: the API refused \(400\): .*model/);

  const unknown = await runLonghaul(['agents', 'get', 'agent_doesnotexist'], { env });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^longhaul: the API refused \(404\): .*agent_doesnotexist/);
});
