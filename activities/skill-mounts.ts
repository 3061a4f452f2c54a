import { posix } from 'node:path';
import { NotFoundError } from '../src/errors.ts';
import type { PinnedSkill } from '../src/schemas/agent.ts';
import type { SessionStore } from '../src/store/session-store.ts';
import type { SkillContentReader } from '../src/store/skill-store.ts';
import type { Sandbox, SkillInstall, SkillInstallFile } from '../sandbox/types.ts';

/** Sessions whose pinned skills are kept in memory (they never change in a session's life). */
const PINNED_CACHE_SIZE = 1000;

/**
 * Puts a session's skills in its sandbox: each version the session pinned at creation,
 * every agent's of it together, in its folder under `/mnt/skills` (read-only to the
 * agent), its files read from the store. Runs wherever a session's sandbox is made ready
 * (`ensureSessionSandbox`), and costs nothing once the folders are there. A version
 * deleted before it could be placed is told once, as a `session.error`, and left out:
 * the session goes on without it.
 */
export class SkillMounts {
  readonly #skills: SkillContentReader;
  readonly #store: Pick<SessionStore, 'append'>;
  readonly #pinned = new Map<string, Promise<PinnedSkill[]>>();

  constructor({ skills, store }: { skills: SkillContentReader; store: Pick<SessionStore, 'append'> }) {
    this.#skills = skills;
    this.#store = store;
  }

  /** The skill versions the session pinned (none for most sessions). */
  pinned(sessionId: string): Promise<PinnedSkill[]> {
    let pinned = this.#pinned.get(sessionId);
    if (!pinned) {
      pinned = this.#skills.sessionSkills(sessionId);
      pinned.catch(() => this.#pinned.delete(sessionId));
      if (this.#pinned.size >= PINNED_CACHE_SIZE) this.#pinned.delete(this.#pinned.keys().next().value!);
      this.#pinned.set(sessionId, pinned);
    }
    return pinned;
  }

  /** Places the session's skills in `sandbox` (those already there are left as they are). */
  async install(sessionId: string, sandbox: Pick<Sandbox, 'installSkills'>): Promise<void> {
    const pinned = await this.pinned(sessionId);
    if (pinned.length === 0) return;
    await sandbox.installSkills(pinned.map((skill): SkillInstall => ({ folder: posix.basename(skill.path), files: () => this.#files(sessionId, skill) })));
  }

  async #files(sessionId: string, skill: PinnedSkill): Promise<readonly SkillInstallFile[] | undefined> {
    try {
      const { files } = await this.#skills.versionFiles(skill.skill_id, skill.version);
      return files.map((file) => ({ path: file.path, sizeBytes: file.size_bytes, content: () => this.#skills.readContent(file.content_id) }));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      await this.#store.append(sessionId, [
        {
          key: `skills:missing:${skill.version}`,
          event: {
            type: 'session.error',
            error: { type: 'unknown_error', message: `the skill ${skill.name} (${skill.skill_id}, version ${skill.version}) was deleted before it could be placed at ${skill.path}: the session goes on without it`, retry_status: { type: 'exhausted' } },
          } as never,
        },
      ]);
      return undefined;
    }
  }
}
