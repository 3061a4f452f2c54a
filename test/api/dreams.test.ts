import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type Anthropic from '@anthropic-ai/sdk';
import type { BetaDream } from '@anthropic-ai/sdk/resources/beta/dreams';
import type { MessageCreateParams } from '@anthropic-ai/sdk/resources/messages';
import type { Dream } from '../../src/schemas/api-dream.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastToolResults, text, toolUse, type ScriptedTurn } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { eventually } from '../support/eventually.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';

// Our response type must be assignable to the SDK's: a drift in a field fails typechecking.
const sdkShapes = { dream: (d: Dream): BetaDream => d };
void sdkShapes;

const MODEL = 'claude-sonnet-5-5';

/**
 * Ordinary sessions answer their task in one message. A dream's session (its system
 * prompt says it dreams) lists the transcripts and the store, then runs the commands the
 * dream's instructions give after `run:` one per step, then sums up. A dream told to
 * `stall` takes a minute to answer: long enough to cancel it.
 */
function script(request: MessageCreateParams): ScriptedTurn {
  const system = JSON.stringify(request.system ?? '');
  const first = request.messages[0]?.content;
  const task = typeof first === 'string' ? first : (first ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
  if (!system.includes('You are dreaming')) return { content: [text(`Noted: ${task}`)] };
  const step = request.messages.filter((m) => m.role === 'assistant').length;
  if (task.includes('stall')) return { content: [text('thinking very slowly')], delayMs: 60_000 };
  const store = /curate the memory store at (\S+)\//.exec(task)?.[1] ?? '/nonexistent';
  const commands = [`ls /mnt/session/dream/sessions/ && grep -h -A1 '^## User' /mnt/session/dream/sessions/*.md | grep -v '^## User' | grep -v '^--' | sort && ls -R ${store}`, ...[...task.matchAll(/run: (.+)/g)].map((m) => m[1]!.replaceAll('$STORE', store))];
  if (step < commands.length) return { content: [toolUse('bash', { command: commands[step]! })] };
  return { content: [text(`Curated. Saw: ${lastToolResults(request).map((r) => r.text).join(' | ')}`)] };
}

let temporal: DevServer;
let fixture: ApiFixture;
let client: Anthropic;

before(async () => {
  temporal = await startTestTemporal();
  fixture = await startApiFixture({ temporal, script });
  ({ client } = fixture);
});

after(async () => {
  await fixture[Symbol.asyncDispose]();
  await temporal.stop();
});

/** Three finished sessions on `storeId`, each told one fact. */
async function pastSessions(storeId: string, facts: readonly string[]): Promise<string[]> {
  const agent = await client.beta.agents.create({ name: 'worker', model: MODEL, tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: `env-${Date.now()}` });
  const ids: string[] = [];
  for (const fact of facts) {
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, resources: [{ type: 'memory_store', memory_store_id: storeId }] });
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: fact }] }] });
    ids.push(session.id);
  }
  for (const id of ids) await eventually(`session ${id} idle`, async () => (await client.beta.sessions.retrieve(id)).status === 'idle' && (await client.beta.sessions.events.list(id)).data.some((e) => e.type === 'agent.message'));
  return ids;
}

async function settled(id: string): Promise<BetaDream> {
  return eventually(`dream ${id} to end`, async () => {
    const dream = await client.beta.dreams.retrieve(id);
    return dream.status === 'completed' || dream.status === 'failed' || dream.status === 'canceled' ? dream : undefined;
  }, { timeoutMs: 120_000 });
}

const contents = async (storeId: string) => {
  const out: Record<string, string | null | undefined> = {};
  for await (const m of client.beta.memoryStores.memories.list(storeId, { view: 'full' })) if (m.type === 'memory') out[m.path] = m.content;
  return out;
};

test('a dream over three past sessions writes a new store that starts as a copy of the input; the input is untouched; usage and the session are reported', async () => {
  const input = await client.beta.memoryStores.create({ name: 'Ops notes', description: 'what ops learned' });
  await client.beta.memoryStores.memories.create(input.id, { path: '/old/stale.md', content: 'the build uses ant' });
  await client.beta.memoryStores.memories.create(input.id, { path: '/keep.md', content: 'pager rota is weekly' });
  const sessions = await pastSessions(input.id, ['deploys happen on fridays', 'the build uses make now', 'staging is us-east']);

  const created = await client.beta.dreams.create({
    inputs: [
      { type: 'memory_store', memory_store_id: input.id },
      { type: 'sessions', session_ids: [...sessions].reverse() },
    ],
    model: MODEL,
    instructions: 'Keep one file per topic.\nrun: printf "deploys: fridays\\nbuild: make\\nstaging: us-east" > $STORE/facts.md && rm $STORE/old/stale.md && echo curated',
  });
  assert.equal(created.status, 'pending');
  assert.match(created.id, /^drm_/);
  assert.deepEqual(created.outputs, []);
  assert.deepEqual(created.model, { id: MODEL, speed: 'standard' });
  assert.deepEqual(created.output_behavior, { type: 'create_new' });
  assert.deepEqual(created.inputs[1], { type: 'sessions', session_ids: [...sessions].sort() });

  const done = await settled(created.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.ok(done.ended_at);
  assert.equal(done.outputs.length, 1);
  const output = done.outputs[0]!.memory_store_id;
  assert.notEqual(output, input.id);
  assert.equal((await client.beta.memoryStores.retrieve(output)).name, 'Ops notes (dream)');
  assert.deepEqual(await contents(output), { '/facts.md': 'deploys: fridays\nbuild: make\nstaging: us-east', '/keep.md': 'pager rota is weekly' });
  assert.deepEqual(await contents(input.id), { '/old/stale.md': 'the build uses ant', '/keep.md': 'pager rota is weekly' }, 'the input store is not changed');
  assert.ok(done.usage.input_tokens > 0 && done.usage.output_tokens > 0, JSON.stringify(done.usage));

  // The dream's session read every input transcript and is there to inspect.
  assert.ok(done.session_id);
  const events = (await client.beta.sessions.events.list(done.session_id!)).data;
  const firstResult = events.find((e) => e.type === 'agent.tool_result');
  const listing = firstResult?.type === 'agent.tool_result' ? (firstResult.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('') : '';
  for (const id of sessions) assert.match(listing, new RegExp(`${id}\\.md`));
  assert.match(listing, /deploys happen on fridays\nstaging is us-east\nthe build uses make now/);
  const versions = await client.beta.memoryStores.memoryVersions.list(output, { session_id: done.session_id! });
  assert.ok(versions.data.some((v) => v.operation === 'created' && v.path === '/facts.md'));
  assert.ok(versions.data.some((v) => v.operation === 'deleted' && v.path === '/old/stale.md'));
  const late = (await client.beta.dreams.cancel(created.id).catch((e: unknown) => e)) as { status: number; message: string };
  assert.equal(late.status, 400, 'a completed dream cannot be canceled');
  assert.match(late.message, /has already ended \(completed\)/);
});

test('update_existing: the dream edits the input store, as versions by its session', async () => {
  const store = await client.beta.memoryStores.create({ name: 'team' });
  await client.beta.memoryStores.memories.create(store.id, { path: '/a.md', content: 'alpha' });
  const sessions = await pastSessions(store.id, ['beta is new']);
  const dream = await client.beta.dreams.create({
    inputs: [
      { type: 'memory_store', memory_store_id: store.id },
      { type: 'sessions', session_ids: sessions },
    ],
    model: { id: MODEL },
    output_behavior: { type: 'update_existing', memory_store_id: store.id },
    instructions: 'run: printf beta > $STORE/b.md && printf "alpha, revised" > $STORE/a.md',
  });
  const done = await settled(dream.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.deepEqual(done.outputs, [{ type: 'memory_store', memory_store_id: store.id }]);
  assert.deepEqual(await contents(store.id), { '/a.md': 'alpha, revised', '/b.md': 'beta' });
  const versions = await client.beta.memoryStores.memoryVersions.list(store.id, { session_id: done.session_id! });
  assert.deepEqual(versions.data.map((v) => [v.operation, v.path]).sort(), [['created', '/b.md'], ['modified', '/a.md']].sort());
});

test('cancel mid-run ends the dream canceled at once and stops its session; listing filters by status; archive only once it has ended', async () => {
  const store = await client.beta.memoryStores.create({ name: 'slow' });
  const sessions = await pastSessions(store.id, ['something']);
  const dream = await client.beta.dreams.create({
    inputs: [
      { type: 'memory_store', memory_store_id: store.id },
      { type: 'sessions', session_ids: sessions },
    ],
    model: MODEL,
    instructions: 'stall',
  });
  await eventually('the dream running', async () => (await client.beta.dreams.retrieve(dream.id)).status === 'running');
  const early = await client.beta.dreams.archive(dream.id).catch((e: unknown) => e as { status: number });
  assert.equal((early as { status: number }).status, 400, 'a running dream cannot be archived');
  const running = await client.beta.dreams.list({ statuses: ['running'] });
  assert.ok(running.data.some((d) => d.id === dream.id));

  const canceled = await client.beta.dreams.cancel(dream.id);
  assert.equal(canceled.status, 'canceled');
  assert.ok(canceled.ended_at);
  // A model call in flight ends when its heartbeat brings the cancel (within 24 s of a 30 s heartbeat timeout).
  const session = await eventually(
    'the dream session stopped',
    async () => {
      const s = await client.beta.sessions.retrieve(canceled.session_id!);
      return s.status === 'terminated' ? s : undefined;
    },
    { timeoutMs: 50_000 },
  );
  assert.equal(session.status, 'terminated');
  assert.equal((await client.beta.dreams.cancel(dream.id)).status, 'canceled', 'canceling again changes nothing');
  assert.equal((await client.beta.dreams.retrieve(dream.id)).status, 'canceled', 'the workflow ending does not overwrite the cancel');

  const archived = await client.beta.dreams.archive(dream.id);
  assert.ok(archived.archived_at);
  const listed = [];
  for await (const d of client.beta.dreams.list()) listed.push(d.id);
  assert.ok(!listed.includes(dream.id), 'archived dreams are left out by default');
  const withArchived = [];
  for await (const d of client.beta.dreams.list({ include_archived: true, statuses: ['canceled'] })) withArchived.push(d.id);
  assert.ok(withArchived.includes(dream.id));
});

test('bad dreams are refused with the field named: inputs, model speed, output store, unknown or archived references, a second writer into one store', async () => {
  const store = await client.beta.memoryStores.create({ name: 'checked' });
  const [sessionId] = await pastSessions(store.id, ['x']);
  const refusal = async (params: unknown) =>
    (await client.beta.dreams.create(params as Anthropic.Beta.DreamCreateParams).then(
      () => assert.fail('created'),
      (e: unknown) => e,
    )) as { status: number; message: string; headers: Headers };
  const inputs = [
    { type: 'memory_store', memory_store_id: store.id },
    { type: 'sessions', session_ids: [sessionId] },
  ];
  const cases: [unknown, number, RegExp][] = [
    [{ inputs: [inputs[1]], model: MODEL }, 400, /inputs: must hold exactly one memory_store entry/],
    [{ inputs: [inputs[0], inputs[0], inputs[1]], model: MODEL }, 400, /inputs: must hold exactly one memory_store entry/],
    [{ inputs: [inputs[0]], model: MODEL }, 400, /inputs: must hold exactly one sessions entry/],
    [{ inputs: [inputs[0], { type: 'sessions', session_ids: [] }], model: MODEL }, 400, /inputs\.1\.session_ids: must hold 1 to 100 session ids/],
    [{ inputs: [inputs[0], { type: 'sessions', session_ids: Array.from({ length: 101 }, (_, i) => `sesn_${i}`) }], model: MODEL }, 400, /inputs\.1\.session_ids: must hold 1 to 100/],
    [{ inputs: [inputs[0], { type: 'sessions', session_ids: [sessionId, sessionId] }], model: MODEL }, 400, /inputs\.1\.session_ids: must not repeat/],
    [{ inputs, model: { id: MODEL, speed: 'fast' } }, 400, /model\.speed: dreams run at standard speed only/],
    [{ inputs, model: MODEL, instructions: '' }, 400, /instructions/],
    [{ inputs, model: MODEL, output_behavior: { type: 'update_existing', memory_store_id: 'memstore_other' } }, 400, /output_behavior\.memory_store_id: must be the memory store in inputs/],
    [{ inputs: [{ type: 'memory_store', memory_store_id: 'memstore_nope' }, inputs[1]], model: MODEL }, 404, /inputs\.0\.memory_store_id: memory store memstore_nope not found/],
    [{ inputs: [inputs[0], { type: 'sessions', session_ids: [sessionId, 'sesn_nope'] }], model: MODEL }, 404, /inputs\.1\.session_ids\.1: session sesn_nope not found/],
  ];
  for (const [params, status, message] of cases) {
    const error = await refusal(params);
    assert.equal(error.status, status, `${JSON.stringify(params)}: ${error.message}`);
    assert.match(error.message, message);
  }

  const writer = await client.beta.dreams.create({ inputs: inputs as never, model: MODEL, instructions: 'stall', output_behavior: { type: 'update_existing', memory_store_id: store.id } });
  const second = await refusal({ inputs, model: MODEL, output_behavior: { type: 'update_existing', memory_store_id: store.id } });
  assert.equal(second.status, 409);
  assert.match(second.message, new RegExp(`dream ${writer.id} still writes into memory store ${store.id}`));
  assert.equal(second.headers.get('x-should-retry'), 'false');
  await client.beta.dreams.cancel(writer.id);
  const ended = await client.beta.dreams.cancel(writer.id);
  assert.equal(ended.status, 'canceled');

  await client.beta.memoryStores.archive(store.id);
  const archived = await refusal({ inputs, model: MODEL });
  assert.equal(archived.status, 400);
  assert.match(archived.message, new RegExp(`inputs\\.0\\.memory_store_id: memory store ${store.id} is archived`));
  const missing = await client.beta.dreams.retrieve('drm_nope').catch((e: unknown) => e as { status: number });
  assert.equal((missing as { status: number }).status, 404);
});

test('dream schedules (Longhaul extension): a cron on a memory store, each fire a dream over the sessions that used the store since its last dream', async () => {
  const store = await client.beta.memoryStores.create({ name: 'nightly' });
  const path = `/v1/memory_stores/${store.id}/dream_schedule`;
  const bad = (await client.post(path, { body: { schedule: { type: 'cron', expression: '0 25 * * *', timezone: 'UTC' }, model: MODEL } }).catch((e: unknown) => e)) as { status: number; error: { error: { message: string } } };
  assert.equal(bad.status, 400);
  assert.match(bad.error.error.message, /^schedule\.expression: hour field "25"/);

  const schedule = (await client.post(path, { body: { schedule: { type: 'cron', expression: '0 3 * * *', timezone: 'Europe/Berlin' }, model: MODEL, instructions: 'run: printf nightly > $STORE/night.md' } })) as {
    type: string;
    schedule: { expression: string; timezone: string; upcoming_runs_at: string[]; last_run_at: string | null };
    output_behavior: unknown;
  };
  assert.equal(schedule.type, 'dream_schedule');
  assert.deepEqual({ ...schedule.schedule, upcoming_runs_at: schedule.schedule.upcoming_runs_at.length }, { type: 'cron', expression: '0 3 * * *', timezone: 'Europe/Berlin', upcoming_runs_at: 5, last_run_at: null });
  assert.deepEqual(schedule.output_behavior, { type: 'create_new' });
  assert.equal(new Date(schedule.schedule.upcoming_runs_at[0]!).toLocaleString('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }), '03:00');

  /** Fires the schedule now and waits for the fire's workflow: the dream it started, or null. */
  const fire = async (): Promise<string | null> => {
    const handle = fixture.harness.client.schedule.getHandle(`dream:${store.id}`);
    const before = (await handle.describe()).info.recentActions.length;
    await client.post(`${path}/run`);
    const action = await eventually('the fire', async () => (await handle.describe()).info.recentActions[before]);
    // Fires are named by the second: the next one must come in another second.
    await new Promise((r) => setTimeout(r, 1100));
    return fixture.harness.client.workflow.getHandle(action.action.workflow.workflowId).result();
  };
  assert.equal(await fire(), null, 'no session used the store yet: no dream');

  const sessions = await pastSessions(store.id, ['first fact', 'second fact']);
  const dreamId = await fire();
  assert.ok(dreamId);
  const done = await settled(dreamId);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.deepEqual(done.inputs, [{ type: 'memory_store', memory_store_id: store.id }, { type: 'sessions', session_ids: [...sessions].sort() }]);
  assert.deepEqual(await contents(done.outputs[0]!.memory_store_id), { '/night.md': 'nightly' });
  assert.equal(await fire(), null, 'nothing new since that dream: no dream');
  const [third] = await pastSessions(store.id, ['third fact']);
  const next = await fire();
  assert.deepEqual((await client.beta.dreams.retrieve(next!)).inputs[1], { type: 'sessions', session_ids: [third] }, 'only the sessions since the last dream');
  await settled(next!);

  await client.delete(path);
  const gone = (await client.get(path).catch((e: unknown) => e)) as { status: number };
  assert.equal(gone.status, 404);
});
