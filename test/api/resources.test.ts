import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Anthropic, { AuthenticationError, BadRequestError, ConflictError, NotFoundError } from '@anthropic-ai/sdk';
import type { BetaManagedAgentsAgent } from '@anthropic-ai/sdk/resources/beta/agents/agents';
import type { BetaEnvironment } from '@anthropic-ai/sdk/resources/beta/environments/environments';
import type { BetaManagedAgentsSession } from '@anthropic-ai/sdk/resources/beta/sessions/sessions';
import type { Agent } from '../../src/schemas/api-agent.ts';
import type { Environment } from '../../src/schemas/api-environment.ts';
import type { Session } from '../../src/schemas/api-session.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { createApiApp } from '../../src/api/create-api-app.ts';
import { demoAgentScript } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { API_KEY, startApiFixture, type ApiFixture } from './api-fixture.ts';

// Our response types must be assignable to the SDK's: a drift in a field fails typechecking.
const sdkShapes = {
  agent: (a: Agent): BetaManagedAgentsAgent => a,
  environment: (e: Environment): BetaEnvironment => e,
  session: (s: Session): BetaManagedAgentsSession => s,
};
void sdkShapes;

// `resources-postgres.test.ts` runs this same suite with every store on PostgreSQL.
const onPostgres = process.env['LONGHAUL_TEST_API_STORE'] === 'postgres';

let temporal: DevServer;
let postgres: TestPostgres | undefined;
let f: ApiFixture;
before(async () => {
  temporal = await startTestTemporal();
  postgres = onPostgres ? await startPostgres() : undefined;
  const url = postgres ? await postgres.createDatabase() : undefined;
  f = await startApiFixture({ temporal, script: demoAgentScript, ...(url ? { postgresUrl: url, apiStoreUrl: url } : {}) });
});
after(async () => {
  await f[Symbol.asyncDispose]();
  await temporal.stop();
  await postgres?.stop();
});

const toolset = { type: 'agent_toolset_20260401' as const };

test('agents: create returns the full Agent; retrieve by version; update makes immutable versions', async () => {
  const { client } = f;
  const created = await client.beta.agents.create({
    name: 'reviewer',
    model: { id: 'claude-sonnet-5-5', effort: 'high' },
    system: 'Review code.',
    tools: [{ ...toolset, default_config: { permission_policy: { type: 'always_allow' } }, configs: [{ name: 'web_search', enabled: false }] }],
    metadata: { team: 'core' },
  });
  assert.match(created.id, /^agent_011C/);
  assert.equal(created.type, 'agent');
  assert.equal(created.version, 1);
  assert.deepEqual(created.model, { id: 'claude-sonnet-5-5', effort: { type: 'high' } });
  assert.equal(created.description, null);
  assert.equal(created.archived_at, null);
  assert.deepEqual([created.mcp_servers, created.skills, created.multiagent], [[], [], null]);
  assert.deepEqual(created.execution_identity, { type: 'service_account' });
  const tools = created.tools[0];
  assert.ok(tools?.type === 'agent_toolset_20260401');
  assert.deepEqual(tools.default_config, { enabled: true, permission_policy: { type: 'always_allow' } });
  assert.deepEqual(tools.configs.map((c) => `${c.name}:${c.enabled}`), ['bash:true', 'read:true', 'write:true', 'edit:true', 'glob:true', 'grep:true', 'web_fetch:true', 'web_search:false']);

  const updated = await client.beta.agents.update(created.id, { version: 1, system: 'Review code carefully.', metadata: { team: null, owner: 'ana' } });
  assert.equal(updated.version, 2);
  assert.equal(updated.system, 'Review code carefully.');
  assert.deepEqual(updated.metadata, { owner: 'ana' });
  assert.equal(updated.name, 'reviewer', 'omitted fields are kept');

  // A stale version is a conflict the SDK does not retry.
  const stale = await client.beta.agents.update(created.id, { version: 1, system: 'lost update' }).catch((e: unknown) => e);
  assert.ok(stale instanceof ConflictError, String(stale));
  assert.equal(stale.headers.get('x-should-retry'), 'false');
  assert.match(stale.message, /version 2, not 1/);

  const noChange = await client.beta.agents.update(created.id, { system: 'Review code carefully.' });
  assert.equal(noChange.version, 2, 'an update that changes nothing makes no version');

  assert.equal((await client.beta.agents.retrieve(created.id)).version, 2);
  const v1 = await client.beta.agents.retrieve(created.id, { version: 1 });
  assert.deepEqual([v1.version, v1.system, v1.metadata], [1, 'Review code.', { team: 'core' }]);
  const versions = [];
  for await (const v of client.beta.agents.versions.list(created.id, { limit: 1 })) versions.push(v.version);
  assert.deepEqual(versions, [2, 1]);

  const archived = await client.beta.agents.archive(created.id);
  assert.ok(archived.archived_at);
});

test('agents: list pages with the SDK auto-pagination; archived ones only on request', async () => {
  const { client } = f;
  const made: string[] = [];
  for (let i = 0; i < 7; i++) made.push((await client.beta.agents.create({ name: `pager-${i}`, model: 'claude-haiku-5-5' })).id);
  const seen: string[] = [];
  for await (const agent of client.beta.agents.list({ limit: 2 })) seen.push(agent.id);
  assert.equal(new Set(seen).size, seen.length, 'no agent twice');
  assert.deepEqual(seen.filter((id) => made.includes(id)), [...made].reverse(), 'newest first, every one');

  const firstPage = await client.beta.agents.list({ limit: 3 });
  assert.equal(firstPage.data.length, 3);
  assert.ok(firstPage.next_page);
  const huge = await client.beta.agents.list({ limit: 5000 });
  assert.ok(huge.data.length >= 7, 'a large limit is clamped, not refused');

  await client.beta.agents.archive(made[0]!);
  const visible = [];
  for await (const agent of client.beta.agents.list()) visible.push(agent.id);
  assert.ok(!visible.includes(made[0]!));
  const all = [];
  for await (const agent of client.beta.agents.list({ include_archived: true })) all.push(agent.id);
  assert.ok(all.includes(made[0]!));
});

test('bad input is a BadRequestError whose message names the field', async () => {
  const { client } = f;
  const cases: [unknown, RegExp][] = [
    [{ model: 'claude-sonnet-5-5' }, /^400 .*name: Required/],
    [{ name: 'x' }, /model: Required/],
    [{ name: 'x', model: 'm', tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'teleport' }] }] }, /tools\.0\.configs\.0\.name: Invalid option/],
    [{ name: 'x', model: 'm', tools: [{ type: 'custom', name: 'bash', description: 'd', input_schema: { type: 'object' } }] }, /tools\.0\.name: tool name bash is already taken/],
    [{ name: 'x', model: 'm', tools: [{ type: 'mcp_toolset', mcp_server_name: 'github' }] }, /tools\.0\.mcp_server_name: no mcp_servers entry is named github/],
    [{ name: 'x', model: 'm', mcp_servers: [{ type: 'url', name: 'gh', url: 'not a url' }] }, /mcp_servers\.0\.url: /],
    [{ name: 'x', model: 'm', metadata: { k: 7 } }, /metadata\.k: /],
  ];
  for (const [body, message] of cases) {
    const error = await client.beta.agents.create(body as never).catch((e: unknown) => e);
    assert.ok(error instanceof BadRequestError, `${JSON.stringify(body)} → ${String(error)}`);
    assert.match(error.message, message);
    assert.equal((error.error as { type?: string }).type, 'error');
  }

  const agent = await client.beta.agents.create({ name: 'a', model: 'claude-sonnet-5-5', tools: [toolset] });
  const environment = await client.beta.environments.create({ name: 'e' });
  const noAgent = await client.beta.sessions.create({ environment_id: environment.id } as never).catch((e: unknown) => e);
  assert.ok(noAgent instanceof BadRequestError);
  assert.match(noAgent.message, /agent: Required/);

  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  const badEvent = await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [] }] }).catch((e: unknown) => e);
  assert.ok(badEvent instanceof BadRequestError);
  assert.match(badEvent.message, /events\.0\.content: /);
  const unknownCall = await client.beta.sessions.events
    .send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: 'sevt_x', result: 'allow' }] })
    .catch((e: unknown) => e);
  assert.ok(unknownCall instanceof BadRequestError);
  assert.match(unknownCall.message, /events\.0\.tool_use_id: sevt_x is not a tool call of this session waiting for confirmation/);
  const selfHostedOnly = await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_result', tool_use_id: 'sevt_x' }] }).catch((e: unknown) => e);
  assert.ok(selfHostedOnly instanceof BadRequestError);
  assert.match(selfHostedOnly.message, /events\.0\.type: user\.tool_result events are only valid for self_hosted environments/);
  const misplacedSystem = await client.beta.sessions.events
    .send(session.id, { events: [{ type: 'system.message', content: [{ type: 'text', text: 'be brief' }] }, { type: 'user.message', content: [{ type: 'text', text: 'hi' }] }] })
    .catch((e: unknown) => e);
  assert.ok(misplacedSystem instanceof BadRequestError);
  assert.match(misplacedSystem.message, /events\.0\.type: system\.message must be the last event/);

  // Not JSON at all: a 400 envelope, never a 500.
  const raw = await fetch(`${f.api.url}/v1/agents`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: '{"name": ' });
  assert.equal(raw.status, 400);
  const body = (await raw.json()) as { type: string; error: { type: string }; request_id: string };
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.request_id, /^req_/);
  assert.equal(raw.headers.get('request-id'), body.request_id);
});

test('unknown ids and routes are NotFoundErrors', async () => {
  const { client } = f;
  for (const call of [
    () => client.beta.agents.retrieve('agent_missing'),
    () => client.beta.environments.retrieve('env_missing'),
    () => client.beta.sessions.retrieve('sesn_missing'),
    () => client.beta.sessions.events.list('sesn_missing'),
  ]) {
    const error = await call().catch((e: unknown) => e);
    assert.ok(error instanceof NotFoundError, String(error));
  }
  const environment = await client.beta.environments.create({ name: 'e' });
  const noAgent = await client.beta.sessions.create({ agent: 'agent_missing', environment_id: environment.id }).catch((e: unknown) => e);
  assert.ok(noAgent instanceof NotFoundError);
  const route = await fetch(`${f.api.url}/v1/nothing-here`, { headers: { 'x-api-key': API_KEY } });
  assert.equal(route.status, 404);
  assert.equal(((await route.json()) as { error: { type: string } }).error.type, 'not_found_error');
});

test('a missing or wrong key is an AuthenticationError; x-api-key works too', async () => {
  const noKey = { apiKey: null, defaultHeaders: { Authorization: null } };
  for (const auth of [{ apiKey: 'wrong-key' }, noKey]) {
    const client = new Anthropic({ baseURL: f.api.url, maxRetries: 0, ...auth });
    const error = await client.beta.agents.list().catch((e: unknown) => e);
    assert.ok(error instanceof AuthenticationError, String(error));
  }
  const viaHeader = await fetch(`${f.api.url}/v1/agents?limit=1`, {
    headers: { 'x-api-key': API_KEY, 'anthropic-version': '2026-10-21', 'anthropic-beta': 'managed-agents-2026-04-01', 'X-Stainless-Lang': 'js' },
  });
  assert.equal(viaHeader.status, 200);
  assert.equal((await fetch(`${f.api.url}/openapi.json`)).status, 200, 'the document is public');
});

test('environments: create with networking and packages, list, archive; sessions refuse an archived one', async () => {
  const { client } = f;
  const limited = await client.beta.environments.create({
    name: 'locked',
    config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['packages.example.test'] }, packages: { pip: ['requests'] } },
    metadata: { tier: 'dev' },
  });
  assert.match(limited.id, /^env_011C/);
  assert.deepEqual(limited.config, {
    type: 'cloud',
    networking: { type: 'limited', allowed_hosts: ['packages.example.test'], allow_mcp_servers: false, allow_package_managers: false },
    packages: { type: 'packages', apt: [], cargo: [], gem: [], go: [], npm: [], pip: ['requests'] },
  });
  const open = await client.beta.environments.create({ name: 'open', config: { type: 'cloud', networking: { type: 'unrestricted' } } });
  const listed = [];
  for await (const env of client.beta.environments.list({ limit: 1 })) listed.push(env.id);
  assert.ok(listed.includes(limited.id) && listed.includes(open.id));
  assert.deepEqual((await client.beta.environments.retrieve(limited.id)).metadata, { tier: 'dev' });

  await client.beta.environments.archive(open.id);
  const agent = await client.beta.agents.create({ name: 'a', model: 'claude-sonnet-5-5' });
  const error = await client.beta.sessions.create({ agent: agent.id, environment_id: open.id }).catch((e: unknown) => e);
  assert.ok(error instanceof BadRequestError, String(error));
  assert.match(error.message, /environment_id: .* is archived/);
});

test('sessions: list both ways, update, archive, delete', async () => {
  const { client } = f;
  const agent = await client.beta.agents.create({ name: 'lister', model: 'claude-sonnet-5-5', tools: [toolset] });
  const environment = await client.beta.environments.create({ name: 'e' });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, title: `s${i}`, metadata: { i: String(i) } })).id);

  const seen: string[] = [];
  for await (const s of client.beta.sessions.list({ agent_id: agent.id, limit: 2 })) seen.push(s.id);
  assert.deepEqual(seen, [...ids].reverse());
  const firstPage = await client.beta.sessions.list({ agent_id: agent.id, limit: 2 });
  assert.equal(firstPage.prev_page, null);
  const secondPage = await client.beta.sessions.list({ agent_id: agent.id, limit: 2, page: firstPage.next_page! });
  assert.deepEqual(secondPage.data.map((s) => s.id), [ids[0]]);
  assert.equal(secondPage.next_page, null);
  const back = await client.beta.sessions.list({ agent_id: agent.id, limit: 2, page: secondPage.prev_page! });
  assert.deepEqual(back.data.map((s) => s.id), firstPage.data.map((s) => s.id));
  const ascending = await client.beta.sessions.list({ agent_id: agent.id, order: 'asc' });
  assert.deepEqual(ascending.data.map((s) => s.id), ids);

  const updated = await client.beta.sessions.update(ids[0]!, { title: 'renamed', metadata: { i: null, k: 'v' } });
  assert.deepEqual([updated.title, updated.metadata], ['renamed', { k: 'v' }]);

  const archived = await client.beta.sessions.archive(ids[1]!);
  assert.ok(archived.archived_at);
  assert.equal(archived.status, 'terminated');
  const sendToArchived = await client.beta.sessions.events.send(ids[1]!, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'hi' }] }] }).catch((e: unknown) => e);
  assert.ok(sendToArchived instanceof BadRequestError);

  const deleted = await client.beta.sessions.delete(ids[2]!);
  assert.deepEqual(deleted, { id: ids[2], type: 'session_deleted' });
  assert.ok((await client.beta.sessions.retrieve(ids[2]!).catch((e: unknown) => e)) instanceof NotFoundError);
});

test('event streams: keepalive comments while quiet; archived (terminated) sessions end the stream', async () => {
  const { client } = f;
  const agent = await client.beta.agents.create({ name: 'quiet', model: 'claude-sonnet-5-5', tools: [toolset] });
  const environment = await client.beta.environments.create({ name: 'e' });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });

  // An app on the same stores with a short keepalive, called in-process.
  const app = createApiApp({ longhaul: f.harness.longhaul, store: f.harness.store, ...f.stores, apiKeys: [API_KEY], streamKeepaliveMs: 50 });
  const response = await app.request(`/v1/sessions/${session.id}/events/stream`, { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
  assert.match(response.headers.get('request-id') ?? '', /^req_/);
  const reader = response.body!.getReader();
  let text = '';
  while ((text.match(/: keepalive/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
  assert.doesNotMatch(text, /^event:/m, 'nothing stale from before the connection');

  // Archiving terminates the session: the open stream gets session.status_terminated and ends.
  await client.beta.sessions.archive(session.id);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  assert.match(text, /event: session\.status_terminated\ndata: \{/);

  // A new live stream on a terminated session ends at once instead of hanging.
  const late = await app.request(`/v1/sessions/${session.id}/events/stream`, { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal((await late.text()).includes('event:'), false);
});

test('events.list and sessions.list filter by created_at; a bad timestamp names the field', async () => {
  const { client } = f;
  const agent = await client.beta.agents.create({ name: 'timeline', model: 'claude-sonnet-5-5', tools: [toolset] });
  const environment = await client.beta.environments.create({ name: 'timeline-env' });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'Create a Python script that finds the first 50 prime numbers' }] }] });
  let all: { id: string; type: string; processed_at?: string | null }[] = [];
  for (let i = 0; !all.some((e) => e.type === 'session.status_idle'); i++) {
    assert.ok(i < 600, 'the turn ends');
    await new Promise((resolve) => setTimeout(resolve, 50));
    all = [];
    for await (const e of client.beta.sessions.events.list(session.id)) all.push(e);
  }
  const pivot = all[Math.floor(all.length / 2)]!;
  const from = [];
  for await (const e of client.beta.sessions.events.list(session.id, { 'created_at[gte]': pivot.processed_at! })) from.push(e);
  assert.deepEqual(
    from.map((e) => e.id),
    all.filter((e) => e.processed_at! >= pivot.processed_at!).map((e) => e.id),
  );
  assert.ok(from.length > 0 && from.length < all.length);
  const before = [];
  for await (const e of client.beta.sessions.events.list(session.id, { 'created_at[lt]': pivot.processed_at! })) before.push(e);
  assert.equal(before.length + from.length, all.length);

  // An offset in the filter means the same instant.
  const shifted = new Date(Date.parse(session.created_at)).toISOString().replace('Z', '+00:00');
  const sessions = await client.beta.sessions.list({ 'created_at[gte]': shifted, limit: 100 });
  assert.ok(sessions.data.some((s) => s.id === session.id));

  const bad = await client.beta.sessions.events.list(session.id, { 'created_at[gt]': 'yesterday' }).catch((e: unknown) => e);
  assert.ok(bad instanceof BadRequestError);
  assert.match(bad.message, /created_at\[gt\]: must be an ISO 8601 date-time/);
});

test('sessions.create with agent_with_overrides runs that version with the overrides, without making a new version', async () => {
  const { client } = f;
  const agent = await client.beta.agents.create({ name: 'base', model: 'claude-sonnet-5-5', system: 'You are terse.', tools: [toolset] });
  const environment = await client.beta.environments.create({ name: 'override-env' });
  const custom = { type: 'custom' as const, name: 'lookup', description: 'Looks things up', input_schema: { type: 'object' as const, properties: { q: { type: 'string' } } } };
  const session = await client.beta.sessions.create({
    agent: { type: 'agent_with_overrides', id: agent.id, version: 1, system: 'You are verbose.', tools: [toolset, custom] },
    environment_id: environment.id,
  });
  assert.deepEqual([session.agent.id, session.agent.version, session.agent.system, session.agent.model.id], [agent.id, 1, 'You are verbose.', 'claude-sonnet-5-5']);
  assert.deepEqual(session.agent.tools.at(-1), custom);
  // The agent itself is unchanged, and the workflow runs the overridden definition.
  const again = await client.beta.agents.retrieve(agent.id);
  assert.deepEqual([again.version, again.system], [1, 'You are terse.']);
  const started = (await f.harness.store.sessions.retrieve(session.id)).definition;
  assert.equal(started.agent.system, 'You are verbose.');
  assert.deepEqual(started.agent.tools.map((t) => t.type), ['agent_toolset_20260401', 'custom']);

  const bad = await client.beta.sessions
    .create({ agent: { type: 'agent_with_overrides', id: agent.id, tools: [{ type: 'mcp_toolset', mcp_server_name: 'nowhere' }] }, environment_id: environment.id })
    .catch((e: unknown) => e);
  assert.ok(bad instanceof BadRequestError);
  assert.match(bad.message, /agent\.tools\.0\.mcp_server_name: no mcp_servers entry is named nowhere/);
});
