import { NotFoundError } from '../errors.ts';
import type { PinnedSkill, RosterMember } from '../schemas/agent.ts';
import {
  SELF_VERSION,
  agentDefinitionOf,
  rosterRefs,
  type Agent,
  type AgentReference,
  type Multiagent,
  type MultiagentParams,
  type PredefinedAgentParam,
  type ResolvedMultiagentParams,
} from '../schemas/api-agent.ts';
import type { SessionMultiagent, SessionThreadAgent } from '../schemas/api-session.ts';
import { BadRequestError } from './api-errors.ts';
import { pinnedSkillRefs } from './skill-pins.ts';

/** What rosters need of the agent store. */
export type AgentLookup = { retrieve(id: string, version?: number): Promise<Agent> };

/**
 * Resolves a create's or update's `multiagent` against the saved agents: each entry to
 * an agent version (an id alone: its latest), `self` (or the agent's own id) to the agent
 * itself. Every agent must exist, be unarchived, and not be multiagent itself (depth
 * limit 1), and appear once; each problem is a 400 naming the entry.
 */
export async function resolveRoster(params: MultiagentParams | null | undefined, { agents, selfId }: { agents: AgentLookup; selfId: string }): Promise<ResolvedMultiagentParams | null | undefined> {
  if (params == null) return params;
  if (params.type === 'coordinator') {
    return { type: 'coordinator', agents: await resolveEntries(params.agents as PredefinedAgentParam[], 'multiagent.agents', { agents, selfId }) };
  }
  const subagents = params.subagents;
  if (subagents === undefined) return { type: 'multiagent_20261001' };
  // Null takes the default: enabled, with no agents (a create then fails the merged check).
  if (subagents === null) return { type: 'multiagent_20261001', subagents: { type: 'enabled', predefined_agents: [] } };
  if (subagents.type === 'disabled') return { type: 'multiagent_20261001', subagents };
  const listed = subagents.predefined_agents;
  return {
    type: 'multiagent_20261001',
    subagents: { type: 'enabled', ...(listed === undefined ? {} : { predefined_agents: await resolveEntries(listed ?? [], 'multiagent.subagents.predefined_agents', { agents, selfId }) }) },
  };
}

async function resolveEntries(entries: readonly PredefinedAgentParam[], field: string, { agents, selfId }: { agents: AgentLookup; selfId: string }): Promise<AgentReference[]> {
  const refs: AgentReference[] = [];
  for (const [index, entry] of entries.entries()) {
    const where = `${field}.${index}`;
    const id = typeof entry === 'string' ? entry : entry.type === 'agent' ? entry.id : selfId;
    let ref: AgentReference;
    if (id === selfId) {
      ref = { type: 'agent', id: selfId, version: SELF_VERSION };
    } else {
      let agent: Agent;
      try {
        agent = await agents.retrieve(id, typeof entry === 'object' && entry.type === 'agent' ? entry.version : undefined);
      } catch (error) {
        if (error instanceof NotFoundError) throw new BadRequestError(`${where}: ${error.message}`);
        throw error;
      }
      if (agent.archived_at !== null) throw new BadRequestError(`${where}: agent ${id} is archived`);
      if (agent.multiagent !== null) throw new BadRequestError(`${where}: agent ${id} is itself multiagent (depth limit 1)`);
      ref = { type: 'agent', id, version: agent.version };
    }
    if (refs.some((r) => r.id === ref.id)) throw new BadRequestError(`${where}: agent ${ref.id} is in the roster twice`);
    refs.push(ref);
  }
  return refs;
}

/** A roster entry at its pinned version; `self` marks the coordinator's own entry. */
export type RosterAgent = { agent: Agent; self: boolean };

/** The agents of `agent`'s roster at their pinned versions, in roster order (none when it works alone). */
export async function rosterAgents(agent: Agent, agents: AgentLookup): Promise<RosterAgent[]> {
  return Promise.all(rosterRefs(agent.multiagent).map(async (ref) => (ref.id === agent.id && ref.version === agent.version ? { agent, self: true } : { agent: await agents.retrieve(ref.id, ref.version), self: false })));
}

/**
 * What a session on `agent` pins of its roster (`rosterAgents`): the snapshot it shows
 * (`Session.agent.multiagent`, full agent definitions) and the members its workflow runs,
 * each with the skills pinned for it (`skills`, in roster order). A roster agent archived
 * since still runs at its pinned version.
 */
export function pinRoster(agent: Agent, pinned: readonly RosterAgent[], skills: readonly PinnedSkill[][] = []): { snapshot: SessionMultiagent | null; members: RosterMember[] } {
  if (agent.multiagent === null) return { snapshot: null, members: [] };
  const members = pinned.map(({ agent: member, self }, index): RosterMember => ({
    agent_id: member.id,
    version: member.version,
    name: member.name,
    description: member.description,
    self,
    definition: agentDefinitionOf(member, skills[index]),
  }));
  const snapshots = pinned.map(({ agent: member }, index) => threadAgentOf(member, skills[index]));
  return { snapshot: sessionMultiagentOf(agent.multiagent, snapshots), members };
}

function sessionMultiagentOf(multiagent: Multiagent, snapshots: SessionThreadAgent[]): SessionMultiagent {
  if (multiagent.type === 'coordinator') return { type: 'coordinator', agents: snapshots };
  const subagents = multiagent.subagents.type === 'enabled' ? { ...multiagent.subagents, predefined_agents: snapshots } : multiagent.subagents;
  return { ...multiagent, subagents };
}

/** `SessionThreadAgent`: an agent version as a thread runs it (no metadata, no roster), its skills at the versions `pinned` for it. */
export function threadAgentOf({ metadata: _m, multiagent: _r, created_at: _c, updated_at: _u, archived_at: _a, ...agent }: Agent, pinned?: readonly PinnedSkill[]): SessionThreadAgent {
  return pinned ? { ...agent, skills: pinnedSkillRefs(agent.skills, pinned) } : agent;
}
