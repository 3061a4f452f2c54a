import { z } from 'zod';
import { PageQuery, Timestamp } from './api-common.ts';

/**
 * Skills (`client.beta.skills`, `client.beta.skills.versions`): folders of instructions
 * and scripts an agent reads and runs in its sandbox. A skill holds immutable versions;
 * each is an upload of one folder with a `SKILL.md` whose YAML front matter names and
 * describes it.
 */

/** Where a session's skills are, each in a folder of its own (read-only to the sandbox). */
export const SKILLS_MOUNT_ROOT = '/mnt/skills';

/** Limits of one upload (`skills.create`, `skills.versions.create`). */
export const SKILL_UPLOAD_LIMITS = {
  /** Largest file, in bytes. */
  fileBytes: 8 * 1024 * 1024,
  /** All files of one upload together, in bytes. */
  totalBytes: 30 * 1024 * 1024,
  /** Files in one upload. */
  files: 500,
  /** A file's path, in bytes (its folder included). */
  pathBytes: 512,
} as const;
export type SkillUploadLimits = { fileBytes: number; totalBytes: number; files: number; pathBytes: number };

/** `name`: a kebab-case slug, as the skill's folder is named. */
export const SKILL_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const SKILL_NAME_MAX = 64;
export const SKILL_DESCRIPTION_MAX = 1024;

const SKILL_SOURCES = ['custom', 'anthropic', 'anthropic_example', 'plugin'] as const;

/** `BetaSkillSource`. */
export const SkillSource = z.object({ type: z.enum(SKILL_SOURCES) });

/** `BetaSkill`. */
export const Skill = z.object({
  type: z.literal('skill'),
  id: z.string(),
  display_name: z.string(),
  latest_version_id: z.string(),
  source: SkillSource,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Skill = z.infer<typeof Skill>;

/** `BetaSkillVersion`. */
export const SkillVersion = z.object({
  type: z.literal('skill_version'),
  id: z.string(),
  skill_id: z.string(),
  name: z.string(),
  description: z.string(),
  created_at: Timestamp,
});
export type SkillVersion = z.infer<typeof SkillVersion>;

/** `BetaDeletedSkill`. */
export const DeletedSkill = z.object({ id: z.string(), type: z.literal('skill_deleted') });
/** `BetaDeletedSkillVersion`. */
export const DeletedSkillVersion = z.object({ id: z.string(), type: z.literal('skill_version_deleted') });

/** Query of `skills.list`. */
export const SkillListQuery = PageQuery.extend({ source: z.enum(SKILL_SOURCES).optional() });

/** The text fields of `skills.create` besides the `files[]` parts. */
export const SkillCreateFields = z.object({
  display_name: z
    .string()
    .max(255)
    .refine((name) => !/[\r\n]/.test(name), 'must be a single line')
    .optional(),
});

/** What a version names in `latest`-style references: the skill's newest version. */
export const LATEST_VERSION = 'latest';

const skillRefParams = <T extends 'custom' | 'anthropic'>(type: T, idDescription: string) =>
  z.object({
    type: z.literal(type),
    skill_id: z.string().min(1).max(128).meta({ description: idDescription }),
    version: z.string().min(1).max(128).nullish().meta({ description: 'Version to pin; `latest` (the default) is resolved when a session starts' }),
  });

/**
 * An entry of an agent's `skills` (`BetaManagedAgentsSkillParams`). A `custom` skill is one
 * uploaded here; an `anthropic` one is only served when a skill with that id was (Anthropic's
 * own skills cannot be had offline).
 */
export const AgentSkillParams = z.discriminatedUnion('type', [
  skillRefParams('custom', 'Id of a skill uploaded with `skills.create`'),
  skillRefParams('anthropic', 'Id of an Anthropic skill; served only when this server holds a skill with that id'),
]);
export type AgentSkillParams = z.infer<typeof AgentSkillParams>;

/** An agent's `skills`: at most 20, each skill once. */
export const AgentSkillList = z
  .array(AgentSkillParams)
  .max(20)
  .refine((skills) => new Set(skills.map((s) => s.skill_id)).size === skills.length, 'each skill may be listed once');

/** An entry of an agent's `skills` as shown (`BetaManagedAgentsCustomSkill` / `BetaManagedAgentsAnthropicSkill`): `latest` on an agent, a version id on a session. */
export const AgentSkill = z.discriminatedUnion('type', [
  z.object({ type: z.literal('anthropic'), skill_id: z.string(), version: z.string() }),
  z.object({ type: z.literal('custom'), skill_id: z.string(), version: z.string() }),
]);
export type AgentSkill = z.infer<typeof AgentSkill>;
