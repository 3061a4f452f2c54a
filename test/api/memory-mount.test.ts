import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type Anthropic from '@anthropic-ai/sdk';
import type { BetaManagedAgentsMemoryStoreResource } from '@anthropic-ai/sdk/resources/beta/sessions/resources';
import type { MessageCreateParams } from '@anthropic-ai/sdk/resources/messages';
import type { MemoryStoreResource } from '../../src/schemas/api-memory.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { text, toolUse, type ScriptedTurn } from '../../src/testing/index.ts';
import { collectEvents, isIdle, startTestTemporal, type Harness } from '../support/harness.ts';
import { eventually } from '../support/eventually.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';

// Our response type must be assignable to the SDK's: a drift in a field fails typechecking.
const sdkShapes = { resource: (r: MemoryStoreResource): BetaManagedAgentsMemoryStoreResource => r };
void sdkShapes;

const sha256 = (content: string) => createHash('sha256').update(content, 'utf8').digest('hex');

/**
 * Each session's task is a list of steps, one per line: `bash: <command>`, `write: <path> <content>`
 * (content to the end of the line, `\n` for newlines) or `wait: <store id> <path>` (the model
 * answers the next step only once that memory exists: how two sessions take turns). Then it repeats
 * every tool result it saw, one per line.
 */
const steps = async (request: MessageCreateParams, client: () => Anthropic): Promise<ScriptedTurn> => {
  const first = request.messages[0]?.content;
  const task = typeof first === 'string' ? first : (first ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
  // A coordinator hands the whole task to its specialist, then says what came back.
  if (JSON.stringify(request.system ?? '').includes('ROLE:coordinator')) {
    if (request.messages.length === 1) return { content: [toolUse('delegate_to_agent', { agent: 'specialist', message: task })] };
    return { content: [text('delegated')] };
  }
  const plan = task.split('\n').filter((line) => /^(bash|write|wait): /.test(line));
  const actions = plan.filter((line) => !line.startsWith('wait: '));
  const action = actions[request.messages.filter((m) => m.role === 'assistant').length];
  const before = action ? plan[plan.indexOf(action) - 1] : undefined;
  if (before?.startsWith('wait: ')) {
    const [, storeId, path] = /^wait: (\S+) (\S+)$/.exec(before)!;
    await eventually(`memory ${path} in ${storeId}`, async () => (await client().beta.memoryStores.memories.list(storeId!)).data.some((m) => m.path === path));
  }
  if (action?.startsWith('bash: ')) return { content: [toolUse('bash', { command: action.slice(6) })] };
  if (action?.startsWith('write: ')) {
    const [, path, content] = /^write: (\S+) (.*)$/.exec(action)!;
    return { content: [toolUse('write', { file_path: path!, content: content!.replaceAll('\\n', '\n') })] };
  }
  const blocks = request.messages.flatMap((m) => (m.role === 'user' && typeof m.content !== 'string' ? m.content : []));
  const results = blocks.flatMap((b) => (b.type === 'tool_result' ? [Array.isArray(b.content) ? b.content.map((c) => (c.type === 'text' ? c.text : '')).join('') : String(b.content ?? '')] : []));
  return { content: [text(results.join('\n---\n'))] };
};

let temporal: DevServer;
let fixture: ApiFixture;
let harness: Harness;
let client: Anthropic;

before(async () => {
  temporal = await startTestTemporal();
  fixture = await startApiFixture({ temporal, script: (request) => steps(request, () => client) });
  ({ harness, client } = fixture);
});

after(async () => {
  await fixture[Symbol.asyncDispose]();
  await temporal.stop();
});

const agentParams = { name: 'memo', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };

async function newSession(task: string, resources: NonNullable<Anthropic.Beta.Sessions.SessionCreateParams['resources']>) {
  const agent = await client.beta.agents.create(agentParams);
  const environment = await client.beta.environments.create({ name: `env-${Date.now()}` });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, resources });
  await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: task }] }] });
  return session;
}

/** The text of the agent's last message: the tool results it saw, `---` between them. */
async function finalAnswer(sessionId: string): Promise<string[]> {
  const events = await collectEvents(harness.longhaul, sessionId, isIdle, { timeoutMs: 120_000 });
  const last = events.filter((e) => e.type === 'agent.message').at(-1);
  const answer = last?.type === 'agent.message' ? last.content.map((b) => (b.type === 'text' ? b.text : '')).join('') : '';
  return answer.split('\n---\n').map((result) => result.trim());
}

test('memory_store resources: each store gets a folder named after it, its name and description as attached; listed with the session; sessions.list filters by store; bad references are named', async () => {
  const notes = await client.beta.memoryStores.create({ name: 'Team Notes!', description: 'What the team learned' });
  const twin = await client.beta.memoryStores.create({ name: 'team  notes' });
  const reference = await client.beta.memoryStores.create({ name: 'Reference' });
  const session = await newSession('hello', [
    { type: 'memory_store', memory_store_id: notes.id, instructions: 'Write one file per topic.' },
    { type: 'memory_store', memory_store_id: twin.id },
    { type: 'memory_store', memory_store_id: reference.id, access: 'read_only' },
  ]);
  const expected = [
    { type: 'memory_store', memory_store_id: notes.id, access: 'read_write', name: 'Team Notes!', description: 'What the team learned', instructions: 'Write one file per topic.', mount_path: '/mnt/memory/team-notes' },
    { type: 'memory_store', memory_store_id: twin.id, access: 'read_write', name: 'team  notes', description: '', instructions: null, mount_path: '/mnt/memory/team-notes-2' },
    { type: 'memory_store', memory_store_id: reference.id, access: 'read_only', name: 'Reference', description: '', instructions: null, mount_path: '/mnt/memory/reference' },
  ];
  assert.deepEqual(session.resources, expected);
  await client.beta.memoryStores.update(notes.id, { name: 'Renamed later' });
  assert.deepEqual((await client.beta.sessions.retrieve(session.id)).resources, expected, 'the name is a snapshot taken at attach time');
  const listed = [];
  for await (const resource of client.beta.sessions.resources.list(session.id)) listed.push(resource);
  assert.deepEqual(listed, expected);

  const other = await newSession('hello', []);
  const withNotes = await client.beta.sessions.list({ memory_store_id: notes.id });
  assert.deepEqual(withNotes.data.map((s) => s.id), [session.id]);
  assert.ok(!withNotes.data.some((s) => s.id === other.id));

  const agent = await client.beta.agents.create(agentParams);
  const environment = await client.beta.environments.create({ name: 'env-refusals' });
  const refusal = async (resources: NonNullable<Anthropic.Beta.Sessions.SessionCreateParams['resources']>) =>
    (await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, resources }).then(
      () => assert.fail('created'),
      (e: unknown) => e,
    )) as { status: number; message: string };
  const missing = await refusal([{ type: 'memory_store', memory_store_id: 'memstore_nope' }]);
  assert.equal(missing.status, 404);
  assert.match(missing.message, /resources\.0\.memory_store_id: memory store memstore_nope not found/);
  await client.beta.memoryStores.archive(twin.id);
  const archived = await refusal([{ type: 'memory_store', memory_store_id: notes.id }, { type: 'memory_store', memory_store_id: twin.id }]);
  assert.equal(archived.status, 400);
  assert.match(archived.message, new RegExp(`resources\\.1\\.memory_store_id: memory store ${twin.id} is archived`));
  const twice = await refusal([{ type: 'memory_store', memory_store_id: notes.id }, { type: 'memory_store', memory_store_id: notes.id }]);
  assert.equal(twice.status, 400);
  assert.match(twice.message, /resources\.1\.memory_store_id: .* attached twice/);
  const longInstructions = await refusal([{ type: 'memory_store', memory_store_id: notes.id, instructions: 'x'.repeat(4097) }]);
  assert.equal(longInstructions.status, 400);
  assert.match(longInstructions.message, /resources\.0\.instructions/);
  const badAccess = await refusal([{ type: 'memory_store', memory_store_id: notes.id, access: 'write_only' as never }]);
  assert.equal(badAccess.status, 400);
  assert.match(badAccess.message, /resources\.0\.access/);
});

test('the agent reads from /mnt/memory/<slug> what the API wrote, and what it writes there is a memory with a session_actor version; read_only is enforced in the container; the system prompt names the mounts', async () => {
  const notes = await client.beta.memoryStores.create({ name: 'notes', description: 'Project facts' });
  const reference = await client.beta.memoryStores.create({ name: 'reference' });
  await client.beta.memoryStores.memories.create(notes.id, { path: '/facts/build.md', content: 'build with make' });
  await client.beta.memoryStores.memories.create(reference.id, { path: '/style.md', content: 'tabs, never spaces' });
  const task = [
    'bash: cat /mnt/memory/notes/facts/build.md; echo; cat /mnt/memory/reference/style.md',
    'write: /mnt/memory/notes/learned/today.md deploys run on fridays\\nnever on mondays',
    'bash: echo sneaky > /mnt/memory/reference/style.md; echo "exit=$?"; cat /mnt/memory/reference/style.md',
    'bash: rm /mnt/memory/notes/facts/build.md && echo removed',
  ].join('\n');
  const session = await newSession(task, [
    { type: 'memory_store', memory_store_id: notes.id, instructions: 'Keep it short.' },
    { type: 'memory_store', memory_store_id: reference.id, access: 'read_only' },
  ]);
  const results = await finalAnswer(session.id);
  assert.equal(results[0], 'build with make\ntabs, never spaces');
  assert.match(results[1]!, /today\.md/);
  assert.match(results[2]!, /Read-only file system/);
  assert.match(results[2]!, /exit=1\ntabs, never spaces$/);
  assert.equal(results[3], 'removed');

  // Visible through the API as soon as the tool call ended.
  const written = await client.beta.memoryStores.memories.list(notes.id, { path_prefix: '/learned/', view: 'full' });
  assert.equal(written.data.length, 1);
  const memory = written.data[0] as Anthropic.Beta.MemoryStores.BetaManagedAgentsMemory;
  assert.equal(memory.content, 'deploys run on fridays\nnever on mondays');
  assert.equal(memory.content_sha256, sha256('deploys run on fridays\nnever on mondays'));
  const versions = await client.beta.memoryStores.memoryVersions.list(notes.id, { session_id: session.id });
  assert.deepEqual(
    versions.data.map((v) => [v.operation, v.path, v.created_by]).sort(),
    [
      ['created', '/learned/today.md', { type: 'session_actor', session_id: session.id }],
      ['deleted', '/facts/build.md', { type: 'session_actor', session_id: session.id }],
    ].sort(),
  );
  const remaining = await client.beta.memoryStores.memories.list(notes.id);
  assert.deepEqual(remaining.data.map((m) => m.path), ['/learned/today.md']);
  const untouched = await client.beta.memoryStores.memories.list(reference.id, { view: 'full' });
  assert.deepEqual(untouched.data.map((m) => [m.path, (m as { content?: string }).content]), [['/style.md', 'tabs, never spaces']]);

  const system = harness.model.calls.map((call) => JSON.stringify(call.body.system ?? '')).find((s) => s.includes('/mnt/memory/notes'));
  assert.ok(system, 'the system prompt names the mount');
  assert.match(system, /\/mnt\/memory\/notes \(read-write\), the store \\"notes\\": Project facts/);
  assert.match(system, /Keep it short\./);
  assert.match(system, /\/mnt\/memory\/reference \(read-only\)/);
});

test('two sessions on one store see each other\'s writes at their next tool call; a write over another session\'s write to one path keeps both versions, the later current', async () => {
  const shared = await client.beta.memoryStores.create({ name: 'shared' });
  const a = await newSession(
    [
      'write: /mnt/memory/shared/from-a.md written by a',
      `wait: ${shared.id} /from-b.md`,
      'bash: cat /mnt/memory/shared/from-b.md',
      'write: /mnt/memory/shared/same.md a was here',
    ].join('\n'),
    [{ type: 'memory_store', memory_store_id: shared.id }],
  );
  const b = await newSession(
    [
      `wait: ${shared.id} /from-a.md`,
      'bash: cat /mnt/memory/shared/from-a.md',
      'write: /mnt/memory/shared/from-b.md written by b',
      `wait: ${shared.id} /same.md`,
      'write: /mnt/memory/shared/same.md b was here',
    ].join('\n'),
    [{ type: 'memory_store', memory_store_id: shared.id }],
  );
  const [seenByA, seenByB] = await Promise.all([finalAnswer(a.id), finalAnswer(b.id)]);
  assert.equal(seenByA[1], 'written by b');
  assert.equal(seenByB[0], 'written by a');
  const same = (await client.beta.memoryStores.memories.list(shared.id, { view: 'full' })).data.find((m) => m.path === '/same.md') as { content?: string; id: string };
  assert.equal(same.content, 'b was here', 'the later write is current');
  const history = await client.beta.memoryStores.memoryVersions.list(shared.id, { memory_id: same.id, view: 'full' });
  assert.deepEqual(
    history.data.map((v) => [v.operation, v.content, v.created_by]).reverse(),
    [
      ['created', 'a was here', { type: 'session_actor', session_id: a.id }],
      ['modified', 'b was here', { type: 'session_actor', session_id: b.id }],
    ],
  );
});

test('a deployment carries memory_store resources: each run\'s session mounts the store', async () => {
  const notes = await client.beta.memoryStores.create({ name: 'routine notes' });
  const agent = await client.beta.agents.create(agentParams);
  const environment = await client.beta.environments.create({ name: 'env-routine' });
  const deployment = await client.beta.deployments.create({
    name: 'nightly',
    agent: agent.id,
    environment_id: environment.id,
    initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'bash: cat /mnt/memory/routine-notes/x.md' }] }],
    resources: [{ type: 'memory_store', memory_store_id: notes.id, access: 'read_only', instructions: 'Facts only.' }],
  });
  assert.deepEqual(deployment.resources, [{ type: 'memory_store', memory_store_id: notes.id, access: 'read_only', instructions: 'Facts only.' }]);
  await client.beta.memoryStores.memories.create(notes.id, { path: '/x.md', content: 'remembered' });
  const run = await client.beta.deployments.run(deployment.id);
  assert.ok(run.session_id, JSON.stringify(run.error));
  const session = await client.beta.sessions.retrieve(run.session_id);
  assert.deepEqual(session.resources, [
    { type: 'memory_store', memory_store_id: notes.id, access: 'read_only', name: 'routine notes', description: '', instructions: 'Facts only.', mount_path: '/mnt/memory/routine-notes' },
  ]);
  assert.deepEqual(await finalAnswer(run.session_id), ['remembered']);
  const archived = await client.beta.memoryStores.create({ name: 'gone' });
  await client.beta.memoryStores.archive(archived.id);
  const refused = (await client.beta.deployments
    .create({ name: 'bad', agent: agent.id, environment_id: environment.id, initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'x' }] }], resources: [{ type: 'memory_store', memory_store_id: archived.id }] })
    .catch((e: unknown) => e)) as { status: number; message: string };
  assert.equal(refused.status, 400);
  assert.match(refused.message, new RegExp(`resources\\.0\\.memory_store_id: memory store ${archived.id} is archived`));
});

test('a specialist thread of a multi-agent session sees the mount in its prompt, reads the store and writes to it as the session', async () => {
  const notes = await client.beta.memoryStores.create({ name: 'shared notes' });
  await client.beta.memoryStores.memories.create(notes.id, { path: '/facts.md', content: 'the sky is blue' });
  const specialist = await client.beta.agents.create({ ...agentParams, name: 'specialist', description: 'does the work', system: 'ROLE:specialist' });
  const coordinator = await client.beta.agents.create({ ...agentParams, name: 'coordinator', system: 'ROLE:coordinator', multiagent: { type: 'coordinator', agents: [specialist.id] } } as Anthropic.Beta.Agents.AgentCreateParams);
  const environment = await client.beta.environments.create({ name: 'env-team' });
  const session = await client.beta.sessions.create({ agent: coordinator.id, environment_id: environment.id, resources: [{ type: 'memory_store', memory_store_id: notes.id }] });
  await client.beta.sessions.events.send(session.id, {
    events: [{ type: 'user.message', content: [{ type: 'text', text: 'bash: cat /mnt/memory/shared-notes/facts.md\nwrite: /mnt/memory/shared-notes/from-specialist.md grass is green' }] }],
  });
  await eventually('the specialist wrote to the store', async () => (await client.beta.memoryStores.memories.list(notes.id)).data.some((m) => m.path === '/from-specialist.md'), { timeoutMs: 90_000 });
  const versions = await client.beta.memoryStores.memoryVersions.list(notes.id, { session_id: session.id });
  assert.deepEqual(versions.data.map((v) => [v.operation, v.path]), [['created', '/from-specialist.md']]);
  const specialistRequests = harness.model.calls.filter((call) => JSON.stringify(call.body.system ?? '').includes('ROLE:specialist'));
  assert.ok(specialistRequests.length > 0);
  assert.ok(specialistRequests.every((call) => JSON.stringify(call.body.system).includes('/mnt/memory/shared-notes (read-write)')), 'the specialist is told of the mount');
  const results = specialistRequests.at(-1)!.body.messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content)).flatMap((b) => (b.type === 'tool_result' ? [JSON.stringify(b.content)] : []));
  assert.match(results[0] ?? '', /the sky is blue/);
});
