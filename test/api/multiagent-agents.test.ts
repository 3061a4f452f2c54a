/**
 * `multiagent` on agents through the official SDK: both shapes resolved to pinned agent
 * versions, every refusal a 400 naming the field, the `multiagent_20261001` merge on
 * update, and the roster a session snapshots when it is created. (Delegation at run time
 * is `multiagent.test.ts`.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BadRequestError } from '@anthropic-ai/sdk';
import type { BetaManagedAgentsAgent, BetaManagedAgentsMultiagentPredefinedAgentParams, BetaManagedAgentsSessionThreadAgent } from '@anthropic-ai/sdk/resources/beta/agents/agents';
import type { BetaManagedAgentsMultiagentParams } from '@anthropic-ai/sdk/resources/beta/sessions/sessions';
import { defaultPayloadConverter } from '@temporalio/common';
import type { SessionWorkflowInput } from '../../workflows/contract.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';

let temporal: DevServer;
let f: ApiFixture;
before(async () => {
  temporal = await startTestTemporal();
  f = await startApiFixture({ temporal, script: demoAgentScript });
});
after(async () => {
  await f[Symbol.asyncDispose]();
  await temporal.stop();
});

const toolset = { type: 'agent_toolset_20260401' as const };
const model = 'claude-sonnet-5-5';

function specialist(name: string, extra: { system?: string; description?: string } = {}) {
  return f.client.beta.agents.create({ name, model, tools: [toolset], metadata: { team: 'x' }, ...extra });
}

function agentWith(multiagent: BetaManagedAgentsMultiagentParams, name = 'coordinator') {
  return f.client.beta.agents.create({ name, model, tools: [toolset], multiagent });
}

const ref = (agent: { id: string }, version: number) => ({ type: 'agent' as const, id: agent.id, version });

/** The 400 an SDK call fails with: an `invalid_request_error` whose message (the envelope's, so it can be anchored at the field) matches. */
async function refused(call: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await call.then(
    (value) => assert.fail(`expected a 400 matching ${message}, got ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof BadRequestError, String(error));
  assert.equal(error.status, 400);
  const { type, message: said } = (error.error as { error?: { type?: string; message?: string } }).error ?? {};
  assert.equal(type, 'invalid_request_error');
  assert.match(said ?? '', message);
}

/** An agent version as a session's roster shows it: no metadata, no roster, no timestamps. */
function threadAgentOf({ metadata: _m, multiagent: _r, created_at: _c, updated_at: _u, archived_at: _a, ...agent }: BetaManagedAgentsAgent): BetaManagedAgentsSessionThreadAgent {
  return agent;
}

/** The input the session's workflow was started with. */
async function workflowInput(sessionId: string): Promise<SessionWorkflowInput> {
  const history = await f.harness.client.workflow.getHandle(sessionId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  assert.ok(payload, `session ${sessionId} has no workflow input`);
  return defaultPayloadConverter.fromPayload(payload);
}

test('coordinator: ids resolve to their latest version, a reference keeps its version, self is the version being written', async () => {
  const researcher = await specialist('researcher');
  const writer = await specialist('writer');
  await f.client.beta.agents.update(researcher.id, { version: 1, system: 'v2' });
  await f.client.beta.agents.update(writer.id, { version: 1, system: 'v2' });

  const sent: BetaManagedAgentsMultiagentParams = { type: 'coordinator', agents: [researcher.id, ref(writer, 1), { type: 'self' }] };
  const coordinator = await agentWith(sent);
  const expected = (version: number) => ({ type: 'coordinator', agents: [ref(researcher, 2), ref(writer, 1), ref(coordinator, version)] });
  assert.deepEqual(coordinator.multiagent, expected(1));
  assert.deepEqual((await f.client.beta.agents.retrieve(coordinator.id)).multiagent, expected(1));

  // The same roster again is no change; any other change is a new version, its self entry with it.
  assert.equal((await f.client.beta.agents.update(coordinator.id, { version: 1, multiagent: sent })).version, 1);
  const renamed = await f.client.beta.agents.update(coordinator.id, { version: 1, name: 'lead' });
  assert.deepEqual([renamed.version, renamed.multiagent], [2, expected(2)]);
  assert.deepEqual((await f.client.beta.agents.retrieve(coordinator.id, { version: 1 })).multiagent, expected(1));

  // A new roster is a new version; a reference without a version takes the latest.
  const narrowed = await f.client.beta.agents.update(coordinator.id, { version: 2, multiagent: { type: 'coordinator', agents: [{ type: 'agent', id: writer.id }] } });
  assert.deepEqual([narrowed.version, narrowed.multiagent], [3, { type: 'coordinator', agents: [ref(writer, 2)] }]);
});

test('multiagent_20261001: advisor, workflows and inline agents left out or null resolve to disabled; subagents may be disabled', async () => {
  const member = await specialist('member');
  const resolved = (coordinatorId: string) => ({
    type: 'multiagent_20261001',
    advisor: { type: 'disabled' },
    subagents: { type: 'enabled', inline_agents: { type: 'disabled' }, predefined_agents: [ref(member, 1), { type: 'agent', id: coordinatorId, version: 1 }] },
    workflows: { type: 'disabled' },
  });
  const sparse = await agentWith({ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [member.id, { type: 'self' }] } });
  assert.deepEqual(sparse.multiagent, resolved(sparse.id));
  const nulls = await agentWith({ type: 'multiagent_20261001', advisor: null, workflows: null, subagents: { type: 'enabled', inline_agents: null, predefined_agents: [member.id, { type: 'self' }] } });
  assert.deepEqual(nulls.multiagent, resolved(nulls.id));
  const disabled = await agentWith({ type: 'multiagent_20261001', subagents: { type: 'disabled' }, advisor: { type: 'disabled' }, workflows: { type: 'disabled' } });
  assert.deepEqual(disabled.multiagent, { type: 'multiagent_20261001', advisor: { type: 'disabled' }, subagents: { type: 'disabled' }, workflows: { type: 'disabled' } });
});

test('every refused roster is a 400 invalid_request_error naming the field', async (t) => {
  const member = await specialist('member');
  const other = await specialist('other');
  const nested = await agentWith({ type: 'coordinator', agents: [member.id] }, 'nested');
  const archived = await specialist('archived');
  await f.client.beta.agents.archive(archived.id);
  const enabled = (predefined_agents: BetaManagedAgentsMultiagentPredefinedAgentParams[]) => ({ type: 'multiagent_20261001' as const, subagents: { type: 'enabled' as const, predefined_agents } });
  const cases: [string, BetaManagedAgentsMultiagentParams, RegExp][] = [
    ['21 entries', { type: 'coordinator', agents: Array.from({ length: 21 }, () => member.id) }, /^multiagent\.agents: Too big: expected array to have <=20 items/],
    ['no entries', { type: 'coordinator', agents: [] }, /^multiagent\.agents: Too small: expected array to have >=1 items/],
    ['a multiagent roster agent', { type: 'coordinator', agents: [member.id, nested.id] }, new RegExp(`^multiagent\\.agents\\.1: agent ${nested.id} is itself multiagent \\(depth limit 1\\)`)],
    ['an unknown agent', { type: 'coordinator', agents: [member.id, 'agent_011CnoSuchAgent'] }, /^multiagent\.agents\.1: agent agent_011CnoSuchAgent not found/],
    ['an unknown version', { type: 'coordinator', agents: [ref(member, 9)] }, new RegExp(`^multiagent\\.agents\\.0: agent ${member.id} has no version 9`)],
    ['an archived agent', { type: 'coordinator', agents: [archived.id] }, new RegExp(`^multiagent\\.agents\\.0: agent ${archived.id} is archived`)],
    ['one agent twice', { type: 'coordinator', agents: [member.id, other.id, { type: 'agent', id: member.id }] }, new RegExp(`^multiagent\\.agents\\.2: agent ${member.id} is in the roster twice`)],
    ['two selfs', { type: 'coordinator', agents: [{ type: 'self' }, member.id, { type: 'self' }] }, /^multiagent\.agents: at most one entry may be \{type: "self"\}/],
    ['an advisor entry', { type: 'coordinator', agents: [member.id, { type: 'advisor', model }] }, /^multiagent\.agents\.1: advisor roster entries are not supported by Longhaul yet/],
    ['workflows enabled', { ...enabled([member.id]), workflows: { type: 'enabled' } }, /^multiagent\.workflows: workflow runs are not supported by Longhaul yet/],
    ['an advisor enabled', { ...enabled([member.id]), advisor: { type: 'enabled', model } }, /^multiagent\.advisor: advisors are not supported by Longhaul yet/],
    ['inline agents enabled', { type: 'multiagent_20261001', subagents: { type: 'enabled', inline_agents: { type: 'enabled' }, predefined_agents: [member.id] } }, /^multiagent\.subagents\.inline_agents: inline agents are not supported by Longhaul yet/],
    ['subagents enabled with no agents', { type: 'multiagent_20261001', subagents: { type: 'enabled' } }, /^multiagent\.subagents\.predefined_agents: must name at least one agent/],
    ['subagents left out (enabled, no agents)', { type: 'multiagent_20261001' }, /^multiagent\.subagents\.predefined_agents: must name at least one agent/],
    ['21 predefined agents', enabled(Array.from({ length: 21 }, () => member.id)), /^multiagent\.subagents\.predefined_agents: Too big/],
    ['a predefined agent unknown', enabled([member.id, 'agent_011CnoSuchAgent']), /^multiagent\.subagents\.predefined_agents\.1: agent agent_011CnoSuchAgent not found/],
    ['a predefined agent multiagent', enabled([nested.id]), new RegExp(`^multiagent\\.subagents\\.predefined_agents\\.0: agent ${nested.id} is itself multiagent`)],
    ['two predefined selfs', enabled([{ type: 'self' }, { type: 'self' }]), /^multiagent\.subagents\.predefined_agents: at most one entry may be/],
    ['an unknown shape', { type: 'hive' } as never, /^multiagent\.type: /],
  ];
  for (const [label, multiagent, message] of cases) {
    await t.test(label, () => refused(agentWith(multiagent), message));
  }

  // On update the same checks hold, `self` and the agent's own id are one entry, and a refusal leaves the agent as it was.
  const coordinator = await agentWith({ type: 'coordinator', agents: [member.id] });
  await refused(f.client.beta.agents.update(coordinator.id, { multiagent: { type: 'coordinator', agents: [archived.id] } }), /^multiagent\.agents\.0: agent \S+ is archived/);
  await refused(f.client.beta.agents.update(coordinator.id, { multiagent: { type: 'coordinator', agents: [{ type: 'self' }, coordinator.id] } }), /^multiagent\.agents\.1: agent \S+ is in the roster twice/);
  await refused(f.client.beta.agents.update(member.id, { multiagent: { type: 'coordinator', agents: [coordinator.id] } }), /^multiagent\.agents\.0: agent \S+ is itself multiagent/);
  const unchanged = await f.client.beta.agents.retrieve(coordinator.id);
  assert.deepEqual([unchanged.version, unchanged.multiagent], [1, { type: 'coordinator', agents: [ref(member, 1)] }]);
});

test('update: a multiagent_20261001 merges level by level into a stored one, anything else replaces, null clears', async () => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => specialist(name)));
  const agent = await agentWith({ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [a!.id, b!.id] } });
  const update = (version: number, multiagent: BetaManagedAgentsMultiagentParams | null) => f.client.beta.agents.update(agent.id, { version, multiagent });
  const subagentsOf = (x: BetaManagedAgentsAgent) => (x.multiagent?.type === 'multiagent_20261001' ? x.multiagent.subagents : undefined);
  const enabledWith = (...refs: unknown[]) => ({ type: 'enabled', inline_agents: { type: 'disabled' }, predefined_agents: refs });

  // What an update leaves out keeps its stored value: nothing changes, no new version.
  for (const sent of [{ type: 'multiagent_20261001' }, { type: 'multiagent_20261001', workflows: { type: 'disabled' } }, { type: 'multiagent_20261001', subagents: { type: 'enabled' } }] as const) {
    const kept = await update(1, sent);
    assert.deepEqual([kept.version, subagentsOf(kept)], [1, enabledWith(ref(a!, 1), ref(b!, 1))], JSON.stringify(sent));
  }
  // A list that is sent replaces the stored one.
  const replaced = await update(1, { type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [c!.id] } });
  assert.deepEqual([replaced.version, subagentsOf(replaced)], [2, enabledWith(ref(c!, 1))]);
  const disabled = await update(2, { type: 'multiagent_20261001', subagents: { type: 'disabled' } });
  assert.deepEqual([disabled.version, subagentsOf(disabled)], [3, { type: 'disabled' }]);
  // A type other than the stored one takes the defaults for what it leaves out: enabled with no agents is refused.
  await refused(update(3, { type: 'multiagent_20261001', subagents: { type: 'enabled' } }), /^multiagent\.subagents\.predefined_agents: must name at least one agent/);
  // `subagents: null` takes the default too.
  await refused(update(3, { type: 'multiagent_20261001', subagents: null }), /^multiagent\.subagents\.predefined_agents: must name at least one agent/);

  const coordinator = await update(3, { type: 'coordinator', agents: [a!.id] });
  assert.deepEqual([coordinator.version, coordinator.multiagent], [4, { type: 'coordinator', agents: [ref(a!, 1)] }]);
  // Over a coordinator nothing merges: left out, subagents take the default (enabled, no agents).
  await refused(update(4, { type: 'multiagent_20261001' }), /^multiagent\.subagents\.predefined_agents: must name at least one agent/);
  const cleared = await update(4, null);
  assert.deepEqual([cleared.version, cleared.multiagent], [5, null]);
  assert.equal((await update(5, null)).version, 5, 'clearing what is not set is no change');
  assert.deepEqual(subagentsOf(await f.client.beta.agents.retrieve(agent.id, { version: 2 })), enabledWith(ref(c!, 1)), 'old versions keep their roster');
});

test('a session snapshots the whole roster at creation: full agent versions, the coordinator itself for self; later changes do not reach it', async () => {
  const researcher = await specialist('researcher', { description: 'finds facts', system: 'You research.' });
  const writer = await specialist('writer', { description: 'writes files', system: 'You write.' });
  const coordinator = await f.client.beta.agents.create({
    name: 'coordinator',
    model,
    system: 'You lead.',
    tools: [toolset],
    metadata: { role: 'lead' },
    multiagent: { type: 'coordinator', agents: [researcher.id, writer.id, { type: 'self' }] },
  });
  const environment = await f.client.beta.environments.create({ name: 'roster-env' });
  const session = await f.client.beta.sessions.create({ agent: coordinator.id, environment_id: environment.id });

  const snapshot = { type: 'coordinator', agents: [threadAgentOf(researcher), threadAgentOf(writer), threadAgentOf(coordinator)] };
  assert.deepEqual(session.agent, { ...threadAgentOf(coordinator), multiagent: snapshot });
  for (const member of session.agent.multiagent?.type === 'coordinator' ? session.agent.multiagent.agents : []) {
    assert.ok(!('metadata' in member) && !('multiagent' in member), `${JSON.stringify(member)} carries neither metadata nor a roster`);
  }

  // The workflow runs the same pinned members, the coordinator's own definition for self.
  const { agent } = await workflowInput(session.id);
  assert.deepEqual(
    agent.roster?.map(({ agent_id, version, name, description, self }) => ({ agent_id, version, name, description, self })),
    [
      { agent_id: researcher.id, version: 1, name: 'researcher', description: 'finds facts', self: false },
      { agent_id: writer.id, version: 1, name: 'writer', description: 'writes files', self: false },
      { agent_id: coordinator.id, version: 1, name: 'coordinator', description: null, self: true },
    ],
  );
  assert.deepEqual(
    agent.roster?.map((member) => member.definition.system),
    ['You research.', 'You write.', 'You lead.'],
  );
  assert.ok(agent.roster?.every((member) => !('roster' in member.definition)), 'a member definition carries no roster of its own');

  // A specialist changed and another archived after creation: the session keeps its snapshot, and a new session still pins (and runs) the archived one.
  await f.client.beta.agents.update(researcher.id, { version: 1, system: 'You research harder.' });
  await f.client.beta.agents.archive(writer.id);
  assert.deepEqual((await f.client.beta.sessions.retrieve(session.id)).agent.multiagent, snapshot);
  const later = await f.client.beta.sessions.create({ agent: coordinator.id, environment_id: environment.id });
  assert.deepEqual(later.agent.multiagent, snapshot, "the coordinator's version pins its roster's versions");

  // agent_with_overrides keeps the stored roster; self is the coordinator as this session runs it.
  const overridden = await f.client.beta.sessions.create({ agent: { type: 'agent_with_overrides', id: coordinator.id, system: 'You lead today.' }, environment_id: environment.id });
  const overriddenSelf = { ...threadAgentOf(coordinator), system: 'You lead today.' };
  assert.deepEqual(overridden.agent.multiagent, { type: 'coordinator', agents: [threadAgentOf(researcher), threadAgentOf(writer), overriddenSelf] });
  assert.equal((await workflowInput(overridden.id)).agent.roster?.[2]?.definition.system, 'You lead today.');
});

test('multiagent_20261001 sessions snapshot their predefined agents; with subagents disabled, or without multiagent, the workflow gets no roster', async () => {
  const member = await specialist('member', { system: 'You help.' });
  const environment = await f.client.beta.environments.create({ name: 'roster-env' });
  const start = (agentId: string) => f.client.beta.sessions.create({ agent: agentId, environment_id: environment.id });

  const enabled = await agentWith({ type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [member.id] } });
  const session = await start(enabled.id);
  assert.deepEqual(session.agent.multiagent, {
    type: 'multiagent_20261001',
    advisor: { type: 'disabled' },
    subagents: { type: 'enabled', inline_agents: { type: 'disabled' }, predefined_agents: [threadAgentOf(member)] },
    workflows: { type: 'disabled' },
  });
  assert.deepEqual((await workflowInput(session.id)).agent.roster?.map((m) => [m.agent_id, m.definition.system]), [[member.id, 'You help.']]);

  const off = await agentWith({ type: 'multiagent_20261001', subagents: { type: 'disabled' } });
  const offSession = await start(off.id);
  assert.deepEqual(offSession.agent.multiagent, off.multiagent);
  assert.ok(!('roster' in (await workflowInput(offSession.id)).agent));

  const alone = await start(member.id);
  assert.equal(alone.agent.multiagent, null);
  assert.ok(!('roster' in (await workflowInput(alone.id)).agent), 'a single-agent workflow input is as it was');
});
