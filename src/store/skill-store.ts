import { InvalidRequestError, NotFoundError } from '../errors.ts';
import type { PinnedSkill } from '../schemas/agent.ts';
import { LATEST_VERSION, type Skill, type SkillVersion } from '../schemas/api-skill.ts';
import type { SkillFileEntry } from '../skills/skill-upload.ts';
import { FileStore } from './file-store.ts';
import { keysetPage } from './keyset-page.ts';
import type { Cursor, Page } from './page-cursor.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';

/** A file of a stored version: where it goes and the id its bytes have in the chunk store. */
export type StoredSkillFile = SkillFileEntry & { content_id: string };

type SkillRow = { id: string; record: Skill; created_at: string };
type VersionRow = { id: string; record: SkillVersion; files: StoredSkillFile[]; created_at: string };

/** The id the bytes of a version's `index`th file are kept under. */
export const skillContentId = (versionId: string, index: number) => `${versionId}/${index}`;

/** What mounting skills needs of the store: the files of a version, and their bytes. */
export type SkillContentReader = Pick<SkillStore, 'versionFiles' | 'readContent' | 'sessionSkills'>;

/**
 * Skills and their immutable versions, with each version's files (their bytes in the
 * same chunked store as uploaded files, so an API and workers on other hosts share them),
 * and the skill versions each session pinned when it was created.
 */
export class SkillStore {
  readonly #db: SqlDriver;
  readonly #content: FileStore;

  /** Expects the schema migrated (`migrateSchema` or `openApiStores` on the same driver). */
  constructor(db: SqlDriver) {
    this.#db = db;
    this.#content = new FileStore(db);
  }

  /**
   * Stores the bytes of one file of an upload under `contentId` as they arrive. Write every
   * file before `create` / `addVersion` records the version; `deleteContent` what a failed
   * upload left.
   */
  writeContent(contentId: string, content: AsyncIterable<Uint8Array>): Promise<number> {
    return this.#content.writeContent(contentId, content);
  }

  /** The bytes kept under `contentId`, a chunk at a time. */
  readContent(contentId: string): AsyncGenerator<Buffer> {
    return this.#content.readContent(contentId);
  }

  /** Removes the bytes of files never recorded (an upload that failed). */
  async deleteContent(contentIds: readonly string[]): Promise<void> {
    if (contentIds.length > 0) await this.#db.query('DELETE FROM file_chunks WHERE file_id = ANY($1::text[])', [contentIds]);
  }

  /** A new skill with its first version. */
  async create(skill: Skill, version: SkillVersion, files: readonly StoredSkillFile[]): Promise<Skill> {
    await this.#db.transaction(async (tx) => {
      await tx.query('INSERT INTO skills (id, source, record, created_at) VALUES ($1, $2, $3::text::jsonb, $4)', [skill.id, skill.source.type, JSON.stringify(skill), skill.created_at]);
      await insertVersion(tx, version, files);
    });
    return skill;
  }

  /**
   * A new version of the skill, which becomes its latest. Its `name` must be the skill's
   * (the folder every version mounts as). Times only move forward: a version made in the
   * same millisecond as the latest is dated a millisecond later.
   */
  async addVersion(skillId: string, version: SkillVersion, files: readonly StoredSkillFile[]): Promise<SkillVersion> {
    return this.#db.transaction(async (tx) => {
      const skill = await skillRow(tx, skillId, { forUpdate: true });
      const latest = await versionRow(tx, skillId, skill.record.latest_version_id);
      if (latest.record.name !== version.name) {
        throw new InvalidRequestError(`files: the skill is named ${JSON.stringify(latest.record.name)}, and every version must be; this SKILL.md names ${JSON.stringify(version.name)}`);
      }
      const createdAt = Date.parse(version.created_at) <= Date.parse(latest.created_at) ? new Date(Date.parse(latest.created_at) + 1).toISOString() : version.created_at;
      const added = { ...version, created_at: createdAt };
      await insertVersion(tx, added, files);
      await tx.query('UPDATE skills SET record = $2::text::jsonb WHERE id = $1', [skillId, JSON.stringify({ ...skill.record, latest_version_id: added.id, updated_at: createdAt })]);
      return added;
    });
  }

  /** The skill, or NotFoundError naming it. */
  async retrieve(id: string): Promise<Skill> {
    return (await skillRow(this.#db, id)).record;
  }

  /** Newest first; `source` keeps only skills from there. */
  async list({ limit, cursor, source }: { limit: number; cursor?: Cursor | undefined; source?: string | undefined }): Promise<Page<Skill>> {
    return keysetPage<SkillRow, Skill>({
      db: this.#db,
      select: 'SELECT id, record, created_at FROM skills',
      where: source === undefined ? [] : ['source = $1'],
      params: source === undefined ? [] : [source],
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }

  /** Removes the skill, every version and their bytes. */
  async delete(id: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await skillRow(tx, id, { forUpdate: true });
      const versions = await tx.query<{ files: StoredSkillFile[] }>('SELECT files FROM skill_versions WHERE skill_id = $1', [id]);
      await tx.query('DELETE FROM file_chunks WHERE file_id = ANY($1::text[])', [versions.flatMap((v) => v.files.map((f) => f.content_id))]);
      await tx.query('DELETE FROM skill_versions WHERE skill_id = $1', [id]);
      await tx.query('DELETE FROM skills WHERE id = $1', [id]);
    });
  }

  /** The version (`latest`: the newest), or NotFoundError naming it. */
  async retrieveVersion(skillId: string, version: string): Promise<SkillVersion> {
    return (await this.#version(skillId, version)).record;
  }

  /** The version's files in upload order, with the ids of their bytes. */
  async versionFiles(skillId: string, version: string): Promise<{ version: SkillVersion; files: StoredSkillFile[] }> {
    const row = await this.#version(skillId, version);
    return { version: row.record, files: row.files };
  }

  /** Every version of the skill, newest first. */
  async listVersions(skillId: string, { limit, cursor }: { limit: number; cursor?: Cursor | undefined }): Promise<Page<SkillVersion>> {
    await skillRow(this.#db, skillId);
    return keysetPage<VersionRow, SkillVersion>({
      db: this.#db,
      select: 'SELECT id, record, created_at FROM skill_versions',
      where: ['skill_id = $1'],
      params: [skillId],
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }

  /**
   * Removes one version and its bytes; the newest left becomes the latest. A skill keeps
   * at least one version: its last is refused (delete the skill instead).
   */
  async deleteVersion(skillId: string, version: string): Promise<string> {
    return this.#db.transaction(async (tx) => {
      const skill = await skillRow(tx, skillId, { forUpdate: true });
      const row = await versionRow(tx, skillId, version === LATEST_VERSION ? skill.record.latest_version_id : version);
      const rest = await tx.query<{ id: string }>('SELECT id FROM skill_versions WHERE skill_id = $1 AND id <> $2 ORDER BY created_at DESC, id DESC LIMIT 1', [skillId, row.id]);
      if (!rest[0]) throw new InvalidRequestError(`version: ${row.id} is the only version of skill ${skillId}; a skill keeps at least one (delete the skill instead)`);
      await tx.query('DELETE FROM file_chunks WHERE file_id = ANY($1::text[])', [row.files.map((f) => f.content_id)]);
      await tx.query('DELETE FROM skill_versions WHERE id = $1', [row.id]);
      if (skill.record.latest_version_id === row.id) {
        await tx.query('UPDATE skills SET record = $2::text::jsonb WHERE id = $1', [skillId, JSON.stringify({ ...skill.record, latest_version_id: rest[0].id, updated_at: new Date().toISOString() })]);
      }
      return row.id;
    });
  }

  /** Records the skill versions a new session pinned, before its workflow starts (its workers mount them). */
  async pinForSession(sessionId: string, skills: readonly PinnedSkill[]): Promise<void> {
    if (skills.length === 0) return;
    await this.#db.transaction(async (tx) => {
      for (const [position, skill] of skills.entries()) {
        await tx.query('INSERT INTO session_skills (session_id, position, record) VALUES ($1, $2, $3::text::jsonb) ON CONFLICT DO NOTHING', [sessionId, position, JSON.stringify(skill)]);
      }
    });
  }

  /** The skill versions the session pinned, every agent's of it together (none for most sessions). */
  async sessionSkills(sessionId: string): Promise<PinnedSkill[]> {
    const rows = await this.#db.query<{ record: PinnedSkill }>('SELECT record FROM session_skills WHERE session_id = $1 ORDER BY position', [sessionId]);
    return rows.map((row) => row.record);
  }

  /** Forgets what the session pinned (a create that failed, or a deleted session). */
  async unpinForSession(sessionId: string): Promise<void> {
    await this.#db.query('DELETE FROM session_skills WHERE session_id = $1', [sessionId]);
  }

  async #version(skillId: string, version: string): Promise<VersionRow> {
    const id = version === LATEST_VERSION ? (await skillRow(this.#db, skillId)).record.latest_version_id : version;
    return versionRow(this.#db, skillId, id);
  }
}

async function insertVersion(tx: SqlExecutor, version: SkillVersion, files: readonly StoredSkillFile[]): Promise<void> {
  await tx.query('INSERT INTO skill_versions (id, skill_id, record, files, created_at) VALUES ($1, $2, $3::text::jsonb, $4::text::jsonb, $5)', [
    version.id,
    version.skill_id,
    JSON.stringify(version),
    JSON.stringify(files),
    version.created_at,
  ]);
}

async function skillRow(db: SqlExecutor, id: string, { forUpdate = false }: { forUpdate?: boolean } = {}): Promise<SkillRow> {
  const rows = await db.query<SkillRow>(`SELECT id, record, created_at FROM skills WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  if (!rows[0]) throw new NotFoundError(`skill ${id} not found`);
  return rows[0];
}

async function versionRow(db: SqlExecutor, skillId: string, id: string): Promise<VersionRow> {
  const rows = await db.query<VersionRow>('SELECT id, record, files, created_at FROM skill_versions WHERE skill_id = $1 AND id = $2', [skillId, id]);
  if (!rows[0]) {
    await skillRow(db, skillId);
    throw new NotFoundError(`skill ${skillId} has no version ${id}`);
  }
  return rows[0];
}
