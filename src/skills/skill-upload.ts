import { InvalidRequestError } from '../errors.ts';
import type { SkillUploadLimits } from '../schemas/api-skill.ts';
import { isSkillName, parseSkillFrontMatter } from './skill-front-matter.ts';

/** The file every skill's folder holds at its top: front matter, then the instructions. */
export const SKILL_FILE = 'SKILL.md';

/** A file of a skill version: its path below the skill's folder and its size. */
export type SkillFileEntry = { path: string; size_bytes: number };

/** What an upload turned out to be, once every part is in. */
export type CheckedSkillUpload = {
  /** The top-level folder the files were sent in. */
  folder: string;
  /** From the front matter, else the folder's name. */
  name: string;
  description: string;
  files: SkillFileEntry[];
};

/**
 * Checks a skill upload as its parts arrive, the way `skills.create` and
 * `skills.versions.create` take them: every file in one top-level folder, that folder
 * holding `SKILL.md`; relative, clean paths only (no `..`, `.`, empty or absolute parts,
 * no backslashes or control characters), each once; the limits on files, bytes per file
 * and bytes in all. Every problem is an `InvalidRequestError` naming the file.
 *
 * @example
 * const upload = new SkillUploadCheck(SKILL_UPLOAD_LIMITS);
 * const path = upload.addFile('pdf-tools/SKILL.md');            // → 'SKILL.md'
 * for await (const chunk of upload.meter(path, content)) store(chunk);
 * const checked = upload.finish(skillMarkdown);                 // → { folder, name, description, files }
 */
export class SkillUploadCheck {
  readonly #limits: SkillUploadLimits;
  readonly #files: SkillFileEntry[] = [];
  readonly #folders = new Set<string>();
  #folder: string | undefined;
  #totalBytes = 0;

  constructor(limits: SkillUploadLimits) {
    this.#limits = limits;
  }

  /** Takes the path of the next file part; returns it below the top-level folder. */
  addFile(sent: string): string {
    const problem = skillPathProblem(sent, this.#limits.pathBytes);
    if (problem) throw new InvalidRequestError(`files: ${JSON.stringify(sent)} ${problem}`);
    if (this.#files.length >= this.#limits.files) throw new InvalidRequestError(`files: more than ${this.#limits.files} files`);
    const [folder, ...below] = sent.split('/');
    if (this.#folder === undefined) this.#folder = folder;
    else if (folder !== this.#folder) throw new InvalidRequestError(`files: every file must be in one top-level folder, but ${JSON.stringify(sent)} is not in ${JSON.stringify(this.#folder)}`);
    const path = below.join('/');
    if (this.#files.some((f) => f.path === path)) throw new InvalidRequestError(`files: ${JSON.stringify(sent)} is sent twice`);
    // A path may not be a file and a folder at once.
    const parents = below.slice(0, -1).map((_, i) => below.slice(0, i + 1).join('/'));
    if (this.#folders.has(path) || parents.some((parent) => this.#files.some((f) => f.path === parent))) {
      throw new InvalidRequestError(`files: ${JSON.stringify(sent)} is both a file and a folder`);
    }
    for (const parent of parents) this.#folders.add(parent);
    this.#files.push({ path, size_bytes: 0 });
    return path;
  }

  /** `content` of the file at `path` (as `addFile` returned it), counted against the limits as it passes. */
  async *meter(path: string, content: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    const entry = this.#files.find((f) => f.path === path);
    if (!entry) throw new TypeError(`${path} was not added`);
    for await (const chunk of content) {
      entry.size_bytes += chunk.byteLength;
      this.#totalBytes += chunk.byteLength;
      if (entry.size_bytes > this.#limits.fileBytes) throw new InvalidRequestError(`files: ${this.#folder}/${path} is larger than ${this.#limits.fileBytes} bytes`);
      if (this.#totalBytes > this.#limits.totalBytes) throw new InvalidRequestError(`files: the files together are larger than ${this.#limits.totalBytes} bytes`);
      yield chunk;
    }
  }

  /** The files so far, with their sizes. */
  get files(): readonly SkillFileEntry[] {
    return this.#files;
  }

  /** Whether `path` (below the folder) is the skill's `SKILL.md`. */
  static isSkillFile(path: string): boolean {
    return path === SKILL_FILE;
  }

  /** Ends the check, given the text of `SKILL.md` (undefined when none was sent). */
  finish(skillMarkdown: string | undefined): CheckedSkillUpload {
    const folder = this.#folder;
    if (folder === undefined) throw new InvalidRequestError('files: send the skill as `files[]` parts, one per file, each named with its path (my-skill/SKILL.md)');
    if (skillMarkdown === undefined) throw new InvalidRequestError(`files: ${folder}/${SKILL_FILE} is missing (every skill has a SKILL.md at the top of its folder)`);
    const front = parseSkillFrontMatter(skillMarkdown, `${folder}/${SKILL_FILE}`);
    const name = front.name ?? folder;
    if (front.name === undefined && !isSkillName(folder)) {
      throw new InvalidRequestError(`files: ${folder}/${SKILL_FILE} has no name in its front matter, and the folder's name ${JSON.stringify(folder)} is not kebab-case`);
    }
    return { folder, name, description: front.description, files: [...this.#files] };
  }
}

/** Why `path` is not the path of a file in a skill upload (`folder/…/file`), or undefined. */
export function skillPathProblem(path: string, maxBytes: number): string | undefined {
  if (path === '') return 'has no filename: name each part with its path (my-skill/SKILL.md)';
  if (Buffer.byteLength(path) > maxBytes) return `is longer than ${maxBytes} bytes`;
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'holds a control character';
  if (path.includes('\\')) return 'holds a backslash: separate folders with /';
  if (path.startsWith('/')) return 'is absolute: send paths relative to the skill, starting with its folder';
  const parts = path.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) return 'has an empty, "." or ".." part';
  if (parts.length < 2) return 'is not in a folder: send every file in the skill\'s top-level folder (my-skill/SKILL.md)';
  return undefined;
}
