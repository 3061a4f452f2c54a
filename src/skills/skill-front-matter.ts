import { parseDocument } from 'yaml';
import { InvalidRequestError } from '../errors.ts';
import { SKILL_DESCRIPTION_MAX, SKILL_NAME, SKILL_NAME_MAX } from '../schemas/api-skill.ts';

/** What a `SKILL.md` says of its skill in its front matter. */
export type SkillFrontMatter = {
  /** The skill's kebab-case name; absent when the front matter gives none (the folder's name is taken then). */
  name: string | undefined;
  description: string;
};

/** Front matter longer than this is not a skill's header. */
const MAX_FRONT_MATTER_BYTES = 64 * 1024;

/**
 * Reads the YAML front matter of a `SKILL.md`: a `---` line first, then a YAML mapping,
 * then another `---` line. `description` is required (what the agent is told the skill
 * is for), `name` optional but a kebab-case slug of at most 64 characters when given.
 * Anything else in the mapping is kept out. Problems are `InvalidRequestError`s naming
 * the file and the key.
 *
 * @example
 * parseSkillFrontMatter('---\nname: pdf-tools\ndescription: Fill in PDF forms\n---\n# PDF tools\n…');
 * // → { name: 'pdf-tools', description: 'Fill in PDF forms' }
 */
export function parseSkillFrontMatter(markdown: string, where = 'SKILL.md'): SkillFrontMatter {
  const text = markdown.replace(/^\uFEFF/, '');
  const opening = /^---[ \t]*\r?\n/.exec(text);
  if (!opening) throw new InvalidRequestError(`files: ${where} must start with YAML front matter (a line "---", then name and description, then "---")`);
  const rest = text.slice(opening[0].length);
  const closing = /^---[ \t]*(?:\r?\n|$)/m.exec(rest);
  if (!closing) throw new InvalidRequestError(`files: the front matter of ${where} has no closing "---" line`);
  const yaml = rest.slice(0, closing.index);
  if (Buffer.byteLength(yaml) > MAX_FRONT_MATTER_BYTES) throw new InvalidRequestError(`files: the front matter of ${where} is longer than ${MAX_FRONT_MATTER_BYTES} bytes`);
  // No aliases: a header has no use for them, and they are how small YAML becomes large.
  const document = parseDocument(yaml, { prettyErrors: false });
  if (document.errors.length > 0) throw new InvalidRequestError(`files: the front matter of ${where} is not valid YAML (${document.errors[0]!.message.split('\n')[0]})`);
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 0 });
  } catch (error) {
    throw new InvalidRequestError(`files: the front matter of ${where} cannot be read (${error instanceof Error ? error.message : String(error)})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidRequestError(`files: the front matter of ${where} must be a YAML mapping with name and description`);
  const { name, description } = value as Record<string, unknown>;

  if (description === undefined || description === null) throw new InvalidRequestError(`files: the front matter of ${where} has no description`);
  if (typeof description !== 'string' || description.trim() === '') throw new InvalidRequestError(`files: description in the front matter of ${where} must be non-empty text`);
  if (description.length > SKILL_DESCRIPTION_MAX) throw new InvalidRequestError(`files: description in the front matter of ${where} is longer than ${SKILL_DESCRIPTION_MAX} characters`);

  if (name === undefined || name === null) return { name: undefined, description: description.trim() };
  if (typeof name !== 'string' || !isSkillName(name)) {
    throw new InvalidRequestError(`files: name in the front matter of ${where} must be lowercase letters, digits and single hyphens (kebab-case), at most ${SKILL_NAME_MAX} characters`);
  }
  return { name, description: description.trim() };
}

/** Whether `name` can name a skill (and its folder): a kebab-case slug of at most 64 characters. */
export function isSkillName(name: string): boolean {
  return name.length <= SKILL_NAME_MAX && SKILL_NAME.test(name);
}
