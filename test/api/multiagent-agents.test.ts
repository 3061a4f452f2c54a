/**
 * `multiagent` on agents through the official SDK: both shapes the SDK declares, every
 * roster entry resolved to an agent version, the SDK's rules as 400s naming the field,
 * update merges, and the roster a session pins when it is created.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { text } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';

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

type Params = Anthropic.Beta.Agents.AgentCreateParams;
const toolset = [{ type: 'agent_toolset_20260401' as const }];
const specialist = (name: string) => f.client.beta.agents.create({ name, model: 'claude-haiku-5-5', system: `You are ${name}.`, tools: toolset });
const create = (multiagent: unknown, name = 'coordinator') => f.client.beta.agents.create({ name, model: 'claude-sonnet-5-5', tools: toolset, multiagent } as Params);

async function refused(call: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.equal(err.status, 400);
    assert.match((err.error as { error?: { message?: string } })?.error?.message ?? '', message);
    return true;
  });
}

test('a coordinator: ids, pinned references and self resolve to agent versions', async () => {
  const a = await specialist('alpha');
  const b = await specialist('beta');
  await f.client.beta.agents.update(b.id, { system: 'You are beta, v2.' });
  const coordinator = await create({ type: 'coordinator', agents: [a.id, { type: 'agent', id: b.id, version: 1 }, { type: 'self' }] });
  assert.deepEqual(coordinator.multiagent, {
    type: 'coordinator',
    agents: [
      { type: 'agent', id: a.id, version: 1 },
      { type: 'agent', id: b.id, version: 1 },
      { type: 'agent', id: coordinator.id, version: 1 },
    ],
  });
  // A later version pins self to itself; retrieve shows the same.
  const updated = await f.client.beta.agents.update(coordinator.id, { system: 'coordinate' });
  assert.equal(updated.version, 2);
  assert.deepEqual((updated.multiagent as { agents: unknown[] }).agents.at(-1), { type: 'agent', id: coordinator.id, version: 2 });
  assert.deepEqual((await f.client.beta.agents.retrieve(coordinator.id, { version: 1 })).multiagent, coordinator.multiagent);
});

test('multiagent_20261001: subagents resolved; what Longhaul does not serve is disabled', async () => {
  const a = await specialist('gamma');
  const agent = await create({ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [a.id] } });
  assert.deepEqual(agent.multiagent, {
    type: 'multiagent_20261001',
    advisor: { type: 'disabled' },
    subagents: { type: 'enabled', inline_agents: { type: 'disabled' }, predefined_agents: [{ type: 'agent', id: a.id, version: 1 }] },
    workflows: { type: 'disabled' },
  });
});

test("every rule of the SDK's roster is a 400 naming the field", async () => {
  const a = await specialist('delta');
  const nested = await create({ type: 'coordinator', agents: [a.id] }, 'nested');
  const archived = await specialist('archived');
  await f.client.beta.agents.archive(archived.id);
  const many = await Promise.all(Array.from({ length: 21 }, (_, i) => specialist(`many${i}`)));
  await refused(create({ type: 'coordinator', agents: many.map((m) => m.id) }), /^multiagent\.agents: .*20/);
  await refused(create({ type: 'coordinator', agents: [] }), /^multiagent\.agents: /);
  await refused(create({ type: 'coordinator', agents: [nested.id] }), /^multiagent\.agents\.0: agent .* is itself multiagent \(depth limit 1\)/);
  await refused(create({ type: 'coordinator', agents: [a.id, 'agent_011Cnothere'] }), /^multiagent\.agents\.1: .*not found/);
  await refused(create({ type: 'coordinator', agents: [archived.id] }), /^multiagent\.agents\.0: agent .* is archived/);
  await refused(create({ type: 'coordinator', agents: [a.id, { type: 'agent', id: a.id, version: 1 }] }), /^multiagent\.agents\.1: agent .* is in the roster twice/);
  await refused(create({ type: 'coordinator', agents: [{ type: 'self' }, { type: 'self' }] }), /^multiagent\.agents: at most one entry may be \{type: "self"\}/);
  await refused(create({ type: 'coordinator', agents: [{ type: 'advisor', model: 'claude-opus-5-5' }] }), /^multiagent\.agents\.0: advisor roster entries are not supported/);
  await refused(create({ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [a.id] }, workflows: { type: 'enabled' } }), /^multiagent\.workflows: workflow runs are not supported/);
  await refused(create({ type: 'multiagent_20261001', subagents: { type: 'enabled', inline_agents: { type: 'enabled' }, predefined_agents: [a.id] } }), /^multiagent\.subagents\.inline_agents: /);
  await refused(create({ type: 'multiagent_20261001', advisor: { type: 'enabled', model: 'claude-opus-5-5' }, subagents: { type: 'enabled', predefined_agents: [a.id] } }), /^multiagent\.advisor: /);
  await refused(create({ type: 'multiagent_20261001' }), /^multiagent\.subagents\.predefined_agents: must name at least one agent/);
  await refused(create({ type: 'hive' }), /^multiagent\.type: /);
});

test('updates: multiagent_20261001 merges member by member, another shape replaces, null clears', async () => {
  const a = await specialist('epsilon');
  const b = await specialist('zeta');
  const agent = await create({ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [a.id] } });
  // A member sent without its list keeps the stored list.
  const kept = await f.client.beta.agents.update(agent.id, { multiagent: { type: 'multiagent_20261001', subagents: { type: 'enabled' } } } as never);
  assert.equal(kept.version, 1, 'nothing changed, no new version');
  const replaced = await f.client.beta.agents.update(agent.id, { multiagent: { type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [b.id] } } } as never);
  assert.deepEqual((replaced.multiagent as { subagents: { predefined_agents: unknown[] } }).subagents.predefined_agents, [{ type: 'agent', id: b.id, version: 1 }]);
  assert.equal(replaced.version, 2);
  const coordinator = await f.client.beta.agents.update(agent.id, { multiagent: { type: 'coordinator', agents: [a.id] } } as never);
  assert.deepEqual(coordinator.multiagent, { type: 'coordinator', agents: [{ type: 'agent', id: a.id, version: 1 }] });
  const cleared = await f.client.beta.agents.update(agent.id, { multiagent: null } as never);
  assert.equal(cleared.multiagent, null);
  assert.equal(cleared.version, 4);
});

test("a session pins the whole roster as full snapshots; a specialist's later version does not reach it", async () => {
  const a = await specialist('eta');
  const coordinator = await create({ type: 'coordinator', agents: [a.id, { type: 'self' }] });
  const environment = await f.client.beta.environments.create({ name: 'roster-env' });
  const session = await f.client.beta.sessions.create({ agent: coordinator.id, environment_id: environment.id });
  const roster = (session.agent.multiagent as unknown as { agents: Record<string, unknown>[] }).agents;
  assert.equal(session.agent.multiagent?.type, 'coordinator');
  assert.deepEqual(
    roster.map((m) => [m['id'], m['version'], m['name'], m['system']]),
    [
      [a.id, 1, 'eta', 'You are eta.'],
      [coordinator.id, 1, 'coordinator', null],
    ],
  );
  assert.ok(roster.every((m) => !('multiagent' in m) && !('metadata' in m) && m['type'] === 'agent' && Array.isArray(m['tools'])), 'SessionThreadAgent snapshots');
  await f.client.beta.agents.update(a.id, { system: 'You are eta, changed.' });
  const again = await f.client.beta.sessions.retrieve(session.id);
  assert.deepEqual(again.agent.multiagent, session.agent.multiagent);
  // A single agent's session has none.
  const alone = await f.client.beta.sessions.create({ agent: a.id, environment_id: environment.id });
  assert.equal(alone.agent.multiagent, null);
});
