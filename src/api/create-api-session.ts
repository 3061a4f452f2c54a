import { NotFoundError } from '../errors.ts';
import { agentDefinitionOf, agentSpecProblem, applyAgentUpdate, type Agent } from '../schemas/api-agent.ts';
import { environmentDefinitionOf, type Environment } from '../schemas/api-environment.ts';
import type { FileResourceParams } from '../schemas/api-file.ts';
import type { MemoryStoreResourceParams } from '../schemas/api-memory.ts';
import type { BudgetLimit, Session, SessionAgentParam } from '../schemas/api-session.ts';
import type { Metadata } from '../schemas/api-common.ts';
import type { UserEventParams } from '../schemas/events.ts';
import { newId } from '../store/ids.ts';
import { BadRequestError, PrerequisiteError } from './api-errors.ts';
import type { ApiDeps } from './api-types.ts';
import { pinRoster, rosterAgents, threadAgentOf } from './agent-roster.ts';
import { pinSessionSkills, resolveAgentSkills, type SkillLookup } from './skill-pins.ts';
import type { SkillStore } from '../store/skill-store.ts';
import { apiSessionOf, checkRubricFiles, sessionObject } from './session-object.ts';
import { prepareMemoryResources, type SessionMemoryDeps } from './memory-resources.ts';
import { prepareFileResources, type SessionFileDeps } from './routes/session-resource-routes.ts';

/** What sessions need of the vault store: existence and archival. */
export type VaultLookup = { retrieve(id: string): Promise<{ archived_at: string | null }> };

/** Where what happens to resources is told (outbound webhooks); it never fails the caller's request. */
export type EventSink = { publish(data: { type: string; id: string } & Record<string, unknown>, options: { key: string; at?: string | undefined }): Promise<void> };

export type CreateSessionDeps = Pick<ApiDeps, 'longhaul' | 'agents' | 'environments'> &
  SessionFileDeps &
  SessionMemoryDeps & {
    vaults?: VaultLookup | undefined;
    webhooks?: EventSink | undefined;
    /** Skills: agents' skills are pinned and mounted (without it, an agent with skills cannot start a session). */
    skills?: (SkillLookup & Pick<SkillStore, 'pinForSession' | 'unpinForSession'>) | undefined;
  };

/** `sessions.create`'s body, validated; deployment runs build the same. */
export type NewApiSession = {
  /** Set by a deployment run, so a retried start makes the same session; otherwise a new id. */
  id?: string | undefined;
  /** The deployment whose run this is (`Session.deployment_id`). */
  deployment_id?: string | undefined;
  agent: SessionAgentParam;
  environment_id: string;
  initial_events?: readonly UserEventParams[] | undefined;
  resources?: readonly (FileResourceParams | MemoryStoreResourceParams)[] | undefined;
  vault_ids?: readonly string[] | undefined;
  budget?: BudgetLimit | null | undefined;
  title?: string | null | undefined;
  metadata?: Metadata | undefined;
};

/**
 * Creates a session as `POST /v1/sessions` does, for the route and for deployment
 * runs (one code path, so a scheduled run checks exactly what a request would).
 * A missing or archived prerequisite is a `PrerequisiteError` naming the field.
 */
export async function createApiSession(deps: CreateSessionDeps, params: NewApiSession): Promise<Session> {
  const { longhaul, agents } = deps;
  const stored = await liveAgent(agents, params.agent);
  const agent = typeof params.agent !== 'string' && params.agent.type === 'agent_with_overrides' ? await withOverrides(deps, stored, params.agent) : stored;
  // A coordinator's whole roster is pinned now, and every agent's skills: later versions do not reach this session.
  const members = await rosterAgents(agent, agents);
  const environment = await environmentFor(deps, params.environment_id);
  const skills = await pinSessionSkills(
    [{ field: 'agent.skills', skills: agent.skills }, ...members.map((member, index) => ({ field: `${rosterField(agent, index)}.skills`, skills: member.agent.skills }))],
    // The SDK's worker downloads a self-hosted session's skills into `skills/` of its working folder.
    { skills: deps.skills, ...(environment.config.type === 'self_hosted' ? { root: 'skills' } : {}) },
  );
  const [ownSkills = [], ...memberSkills] = skills.byAgent;
  const roster = pinRoster(agent, members, memberSkills);
  const resources = params.resources ?? [];
  if (environment.config.type === 'self_hosted' && resources.length > 0) {
    // `self_hosted_resources_unsupported`: Longhaul cannot place files or memory on the user's own machines.
    throw new BadRequestError(`resources: environment ${environment.id} is self_hosted; its workers' machines cannot have session resources mounted (give the files to the worker yourself)`);
  }
  const fileResources = await prepareFileResources(deps, resources.filter((r): r is FileResourceParams => r.type === 'file'), { field: 'resources' });
  const memoryResources = await prepareMemoryResources(deps, resources, { field: 'resources' });
  await checkRubricFiles(deps.files, params.initial_events ?? [], 'initial_events');
  const vaultIds = await checkVaults(deps, params.vault_ids ?? [], 'vault_ids');
  const id = params.id ?? newId('sesn');
  for (const resource of fileResources.resources) await deps.files?.addResource(id, resource);
  // Before the workflow starts: its worker reads them to mount the stores and skills and brief the agent.
  await deps.sessionMemory?.attach(id, memoryResources);
  await deps.skills?.pinForSession(id, skills.all);
  try {
    // A worker copies the files into the sandbox before the first model call.
    const session = await longhaul.sessions.create({
      id,
      agent: { ...agentDefinitionOf(agent, ownSkills), ...(roster.members.length > 0 ? { roster: roster.members } : {}) },
      environment: environmentDefinitionOf(environment),
      events: [...(params.initial_events ?? [])],
      vaultIds,
      budget: params.budget ?? null,
      mounts: fileResources.mounts,
      named: { agent: { ...threadAgentOf(agent, ownSkills), multiagent: roster.snapshot }, environmentId: environment.id, deploymentId: params.deployment_id },
      title: params.title ?? null,
      metadata: params.metadata ?? {},
    });
    await publishQuietly(deps.webhooks, 'session.created', id, session.created_at);
    return sessionObject(apiSessionOf(session), session, { resources: [...fileResources.resources, ...memoryResources] });
  } catch (error) {
    if (fileResources.resources.length > 0) await deps.files?.removeResources(id);
    if (memoryResources.length > 0) await deps.sessionMemory?.detach(id);
    if (skills.all.length > 0) await deps.skills?.unpinForSession(id);
    throw error;
  }
}

/**
 * Tells `sink` of a change already made. The change stands whatever happens here, so a
 * failure is logged, not thrown: the caller's request succeeded.
 */
export async function publishQuietly(sink: EventSink | undefined, type: string, id: string, at: string): Promise<void> {
  if (!sink) return;
  try {
    await sink.publish({ type, id }, { key: `${type}:${id}:${at}`, at });
  } catch (error) {
    console.error(`longhaul: could not publish ${type} for ${id}:`, error);
  }
}

/** The agent version an `agent` parameter names (an id alone: its latest), which must not be archived. */
export async function liveAgent(agents: ApiDeps['agents'], param: SessionAgentParam): Promise<Agent> {
  const ref = typeof param === 'string' ? { id: param, version: undefined } : param;
  const agent = await agents.retrieve(ref.id, ref.version);
  if (agent.archived_at !== null) throw new PrerequisiteError('invalid_request_error', `agent: agent ${agent.id} is archived`, 'agent_archived_error');
  return agent;
}

/** Each vault must exist and not be archived; 404 names the field. */
export async function checkVaults(deps: { vaults?: VaultLookup | undefined }, ids: readonly string[], field: string): Promise<string[]> {
  for (const [index, vaultId] of ids.entries()) {
    if (!deps.vaults) throw new BadRequestError(`${field}: this server keeps no vaults (it was started without a secret key)`);
    let vault;
    try {
      vault = await deps.vaults.retrieve(vaultId);
    } catch (error) {
      if (error instanceof NotFoundError) throw new PrerequisiteError('not_found_error', `${field}.${index}: vault ${vaultId} not found`, 'vault_not_found_error');
      throw error;
    }
    if (vault.archived_at !== null) throw new PrerequisiteError('invalid_request_error', `${field}.${index}: vault ${vaultId} is archived`, 'vault_archived_error');
  }
  return [...ids];
}

/** The environment, which must exist and not be archived. */
export async function environmentFor({ environments }: Pick<ApiDeps, 'environments'>, id: string, field = 'environment_id'): Promise<Environment> {
  let environment: Environment;
  try {
    environment = await environments.retrieve(id);
  } catch (error) {
    if (error instanceof NotFoundError) throw new PrerequisiteError('not_found_error', `${field}: environment ${id} not found`, 'environment_not_found_error');
    throw error;
  }
  if (environment.archived_at !== null) throw new PrerequisiteError('invalid_request_error', `${field}: environment ${id} is archived`, 'environment_archived_error');
  return environment;
}

/** The agent version with a session's overrides applied: the same id and version, other settings for this session. */
async function withOverrides(deps: Pick<CreateSessionDeps, 'skills'>, agent: Agent, overrides: Extract<SessionAgentParam, { type: 'agent_with_overrides' }>): Promise<Agent> {
  const { model, system, tools, mcp_servers } = overrides;
  const skills = await resolveAgentSkills(overrides.skills, { skills: deps.skills, field: 'agent.skills' });
  const spec = applyAgentUpdate(agent, { model, system, tools, mcp_servers, skills }, () => agent.metadata);
  const problem = agentSpecProblem(spec);
  if (problem) throw new BadRequestError(`agent.${problem}`);
  return { ...agent, ...spec };
}

/** Where a roster entry is in the `agent`'s `multiagent`, as a field path. */
function rosterField(agent: Agent, index: number): string {
  return agent.multiagent?.type === 'coordinator' ? `agent.multiagent.agents.${index}` : `agent.multiagent.subagents.predefined_agents.${index}`;
}
