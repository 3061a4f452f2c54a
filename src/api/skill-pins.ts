import { posix } from 'node:path';
import { NotFoundError } from '../errors.ts';
import type { PinnedSkill } from '../schemas/agent.ts';
import { LATEST_VERSION, SKILLS_MOUNT_ROOT, type AgentSkill, type AgentSkillParams } from '../schemas/api-skill.ts';
import type { SkillStore } from '../store/skill-store.ts';
import { BadRequestError, PrerequisiteError } from './api-errors.ts';

/** What agents and sessions need of the skill store. */
export type SkillLookup = Pick<SkillStore, 'retrieve' | 'retrieveVersion'>;

/**
 * Checks an agent's `skills` against the skills this server keeps: each must exist, and
 * so must a version it pins. A version left out is `latest`, resolved when a session
 * starts. An `anthropic` skill is served only when a skill with that id was uploaded:
 * Anthropic's own skills cannot be fetched offline. Each problem is a 400 naming the entry.
 */
export async function resolveAgentSkills<T extends readonly AgentSkillParams[] | null | undefined>(
  params: T,
  { skills, field = 'skills' }: { skills: SkillLookup | undefined; field?: string },
): Promise<AgentSkill[] | Extract<T, null | undefined>> {
  if (params == null) return params as Extract<T, null | undefined>;
  const resolved: AgentSkill[] = [];
  for (const [index, param] of params.entries()) {
    const where = `${field}.${index}`;
    if (!skills) throw new BadRequestError(`${where}: this server keeps no skills`);
    try {
      await skills.retrieve(param.skill_id);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      if (param.type === 'anthropic') {
        throw new BadRequestError(`${where}.skill_id: Anthropic's skill ${JSON.stringify(param.skill_id)} is not on this server (Anthropic's skills cannot be fetched offline); upload it with skills.create and name it as {type: "custom"}`);
      }
      throw new BadRequestError(`${where}.skill_id: skill ${param.skill_id} not found`);
    }
    const version = param.version ?? LATEST_VERSION;
    if (version !== LATEST_VERSION) {
      try {
        await skills.retrieveVersion(param.skill_id, version);
      } catch (error) {
        if (error instanceof NotFoundError) throw new BadRequestError(`${where}.version: ${error.message}`);
        throw error;
      }
    }
    resolved.push({ type: param.type, skill_id: param.skill_id, version });
  }
  return resolved;
}

/**
 * Pins the skills of a new session's agents: each `latest` becomes the version it is now,
 * and each version gets its folder under `/mnt/skills`, named after the skill (a second
 * skill of the same name gets `-2`, and so on). One version used by several agents has one
 * folder. Returns, per agent in the order given, what its prompt lists, and all of them
 * together, what the sandbox mounts. A skill or version gone since the agent named it is a
 * 404 naming the entry. `root` is where the folders are: a self-hosted environment's
 * worker puts them in `skills/` of its working folder, not Longhaul's `/mnt/skills`.
 */
export async function pinSessionSkills(
  agents: readonly { field: string; skills: readonly AgentSkill[] }[],
  { skills, root = SKILLS_MOUNT_ROOT }: { skills: SkillLookup | undefined; root?: string | undefined },
): Promise<{ byAgent: PinnedSkill[][]; all: PinnedSkill[] }> {
  const byVersion = new Map<string, PinnedSkill>();
  const folders = new Set<string>();
  const byAgent: PinnedSkill[][] = [];
  for (const agent of agents) {
    const pinned: PinnedSkill[] = [];
    for (const [index, ref] of agent.skills.entries()) {
      const where = `${agent.field}.${index}`;
      if (!skills) throw new BadRequestError(`${where}: this server keeps no skills`);
      let version;
      try {
        version = await skills.retrieveVersion(ref.skill_id, ref.version);
      } catch (error) {
        if (error instanceof NotFoundError) throw new PrerequisiteError('not_found_error', `${where}: ${error.message}`, 'skill_not_found_error');
        throw error;
      }
      let skill = byVersion.get(version.id);
      if (!skill) {
        let folder = version.name;
        for (let n = 2; folders.has(folder); n++) folder = `${version.name}-${n}`;
        folders.add(folder);
        skill = { skill_id: version.skill_id, version: version.id, name: version.name, description: version.description, path: posix.join(root, folder) };
        byVersion.set(version.id, skill);
      }
      pinned.push(skill);
    }
    byAgent.push(pinned);
  }
  return { byAgent, all: [...byVersion.values()] };
}

/** An agent's `skills` as a session shows them: each at the version it pinned. */
export function pinnedSkillRefs(refs: readonly AgentSkill[], pinned: readonly PinnedSkill[]): AgentSkill[] {
  return refs.map((ref, index) => ({ ...ref, version: pinned[index]?.version ?? ref.version }));
}
