import { createHash } from 'node:crypto';
import { NotFoundError } from '../errors.ts';
import { applyMetadataPatch } from '../schemas/api-common.ts';
import type { Actor, Memory, MemoryPrefix, MemoryStore, MemoryUpdateParams, MemoryVersion } from '../schemas/api-memory.ts';
import { ConflictError } from './conflict-error.ts';
import { newId } from './ids.ts';
import { keysetPage } from './keyset-page.ts';
import { encodeCursor, type Cursor, type Page } from './page-cursor.ts';
import { SqlFilters } from './sql-filters.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';

type StoreRow = { id: string; record: MemoryStore; created_at: string };
type MemoryRow = { id: string; path: string; record: Omit<Memory, 'content'>; content: string };
type VersionRow = { id: string; record: Omit<MemoryVersion, 'content'>; content: string | null; created_at: string };

/** A write refused because its precondition no longer holds (409 `memory_precondition_failed_error`). */
export class MemoryPreconditionError extends Error {
  override readonly name = 'MemoryPreconditionError';
}

/** A create or rename onto a path another memory holds (409 `memory_path_conflict_error`). */
export class MemoryPathConflictError extends Error {
  override readonly name = 'MemoryPathConflictError';
  readonly conflictingMemoryId: string;
  readonly conflictingPath: string;

  constructor(conflictingMemoryId: string, conflictingPath: string) {
    super(`path ${conflictingPath} is held by memory ${conflictingMemoryId}`);
    this.conflictingMemoryId = conflictingMemoryId;
    this.conflictingPath = conflictingPath;
  }
}

export const sha256Hex = (content: string) => createHash('sha256').update(content, 'utf8').digest('hex');

/**
 * Memory stores: versioned trees of small text files. Every change of a memory is a
 * version with its actor, written in the same transaction as the change; the memory
 * row holds the current content.
 */
export class MemoryStores {
  readonly #db: SqlDriver;

  /** Expects the schema migrated (`migrateSchema` or `openApiStores` on the same driver). */
  constructor(db: SqlDriver) {
    this.#db = db;
  }

  // ── Stores ────────────────────────────────────────────────────────────────

  /** A new store; with `id`, a retried create finds the store it made (a dream's output store). */
  async create({ id, name, description, metadata }: { id?: string | undefined; name: string; description?: string | undefined; metadata?: Record<string, string> | undefined }): Promise<MemoryStore> {
    const now = new Date().toISOString();
    const store: MemoryStore = { id: id ?? newId('memstore'), type: 'memory_store', name, description: description ?? '', metadata: metadata ?? {}, created_at: now, updated_at: now, archived_at: null };
    const rows = await this.#db.query<{ id: string }>('INSERT INTO memory_stores (id, record, created_at) VALUES ($1, $2::text::jsonb, $3) ON CONFLICT (id) DO NOTHING RETURNING id', [store.id, JSON.stringify(store), now]);
    return rows[0] ? store : this.retrieve(store.id);
  }

  async retrieve(id: string): Promise<MemoryStore> {
    const rows = await this.#db.query<StoreRow>('SELECT record FROM memory_stores WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`memory store ${id} not found`);
    return rows[0].record;
  }

  async update(id: string, params: { name?: string | null | undefined; description?: string | null | undefined; metadata?: Record<string, string | null> | null | undefined }): Promise<MemoryStore> {
    return this.#db.transaction(async (tx) => {
      const current = await lockStore(tx, id);
      if (current.archived_at !== null) throw new ConflictError(`memory store ${id} is archived and cannot be changed`);
      const next: MemoryStore = {
        ...current,
        ...(params.name != null ? { name: params.name } : {}),
        ...(params.description !== undefined ? { description: params.description ?? '' } : {}),
        metadata: applyMetadataPatch(current.metadata, params.metadata),
        updated_at: new Date().toISOString(),
      };
      await tx.query('UPDATE memory_stores SET record = $2::text::jsonb WHERE id = $1', [id, JSON.stringify(next)]);
      return next;
    });
  }

  async archive(id: string): Promise<MemoryStore> {
    return this.#db.transaction(async (tx) => {
      const current = await lockStore(tx, id);
      if (current.archived_at !== null) return current;
      const now = new Date().toISOString();
      const next = { ...current, archived_at: now, updated_at: now };
      await tx.query('UPDATE memory_stores SET record = $2::text::jsonb, archived_at = $3 WHERE id = $1', [id, JSON.stringify(next), now]);
      return next;
    });
  }

  /** Deletes the store with its memories and versions. */
  async delete(id: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await lockStore(tx, id);
      await tx.query('DELETE FROM memory_versions WHERE memory_store_id = $1', [id]);
      await tx.query('DELETE FROM memories WHERE memory_store_id = $1', [id]);
      await tx.query('DELETE FROM memory_stores WHERE id = $1', [id]);
    });
  }

  async list({ limit, cursor, includeArchived = false, createdAtGte, createdAtLte }: { limit: number; cursor?: Cursor | undefined; includeArchived?: boolean | undefined; createdAtGte?: string | undefined; createdAtLte?: string | undefined }): Promise<Page<MemoryStore>> {
    const filters = new SqlFilters().createdAt({ gte: createdAtGte, lte: createdAtLte });
    if (!includeArchived) filters.require('archived_at IS NULL');
    return keysetPage<StoreRow, MemoryStore>({ db: this.#db, select: 'SELECT id, record, created_at FROM memory_stores', ...filters, order: 'desc', limit, cursor, toItem: (row) => row.record });
  }

  // ── Memories ──────────────────────────────────────────────────────────────

  async createMemory(storeId: string, { path, content }: { path: string; content: string }, actor: Actor): Promise<Memory> {
    return this.#db.transaction(async (tx) => {
      await liveStore(tx, storeId);
      await checkPathFree(tx, storeId, path, undefined);
      const now = new Date().toISOString();
      const id = newId('mem');
      const version = await addVersion(tx, { storeId, memoryId: id, operation: 'created', path, content, actor, now });
      const memory = memoryOf({ id, storeId, path, content, versionId: version.id, createdAt: now, updatedAt: now });
      await tx.query('INSERT INTO memories (id, memory_store_id, path, record, content) VALUES ($1, $2, $3, $4::text::jsonb, $5)', [id, storeId, path, JSON.stringify(withoutContent(memory)), content]);
      return memory;
    });
  }

  async retrieveMemory(storeId: string, id: string): Promise<Memory> {
    const rows = await this.#db.query<MemoryRow>('SELECT record, content FROM memories WHERE id = $1 AND memory_store_id = $2', [id, storeId]);
    if (!rows[0]) throw new NotFoundError(`memory ${id} not found in memory store ${storeId}`);
    return { ...rows[0].record, content: rows[0].content };
  }

  /** Changes content and/or path (a rename keeps the id); `precondition` asserts the current content. */
  async updateMemory(storeId: string, id: string, params: MemoryUpdateParams, actor: Actor): Promise<Memory> {
    return this.#db.transaction(async (tx) => {
      await liveStore(tx, storeId);
      const current = await lockMemory(tx, storeId, id);
      if (params.precondition?.content_sha256 !== undefined && params.precondition.content_sha256 !== current.content_sha256) {
        throw new MemoryPreconditionError(`memory ${id} has content_sha256 ${current.content_sha256}, not ${params.precondition.content_sha256}`);
      }
      const path = params.path ?? current.path;
      const content = params.content ?? current.content ?? '';
      if (path === current.path && content === current.content) return current;
      if (path !== current.path) await checkPathFree(tx, storeId, path, id);
      const now = new Date().toISOString();
      const version = await addVersion(tx, { storeId, memoryId: id, operation: 'modified', path, content, actor, now });
      const next = memoryOf({ id, storeId, path, content, versionId: version.id, createdAt: current.created_at, updatedAt: now });
      await tx.query('UPDATE memories SET path = $2, record = $3::text::jsonb, content = $4 WHERE id = $1', [id, path, JSON.stringify(withoutContent(next)), content]);
      return next;
    });
  }

  async deleteMemory(storeId: string, id: string, { expectedSha256 }: { expectedSha256?: string | undefined }, actor: Actor): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await liveStore(tx, storeId);
      const current = await lockMemory(tx, storeId, id);
      if (expectedSha256 !== undefined && expectedSha256 !== current.content_sha256) {
        throw new MemoryPreconditionError(`memory ${id} has content_sha256 ${current.content_sha256}, not ${expectedSha256}`);
      }
      await addVersion(tx, { storeId, memoryId: id, operation: 'deleted', path: current.path, content: null, actor, now: new Date().toISOString() });
      await tx.query('DELETE FROM memories WHERE id = $1', [id]);
    });
  }

  // ── Writes by path (a session's sandbox syncing its files) ────────────────

  /**
   * Sets the memory at `path` to `content`, making it when no memory holds the path.
   * Content equal to the current is no change, so a retried sync writes no second
   * version. Writers by path take the store's row lock: two sessions writing one path
   * take turns, both writes are versions and the later one is current.
   */
  async writePath(storeId: string, path: string, content: string, actor: Actor): Promise<'created' | 'modified' | 'unchanged'> {
    return this.#db.transaction(async (tx) => {
      await writableStore(tx, storeId);
      const now = new Date().toISOString();
      const rows = await tx.query<MemoryRow>('SELECT id, record, content FROM memories WHERE memory_store_id = $1 AND path = $2 FOR UPDATE', [storeId, path]);
      const current = rows[0];
      if (current && current.content === content) return 'unchanged';
      const id = current?.id ?? newId('mem');
      const version = await addVersion(tx, { storeId, memoryId: id, operation: current ? 'modified' : 'created', path, content, actor, now });
      const memory = memoryOf({ id, storeId, path, content, versionId: version.id, createdAt: current?.record.created_at ?? now, updatedAt: now });
      if (current) {
        await tx.query('UPDATE memories SET record = $2::text::jsonb, content = $3 WHERE id = $1', [id, JSON.stringify(withoutContent(memory)), content]);
        return 'modified';
      }
      await tx.query('INSERT INTO memories (id, memory_store_id, path, record, content) VALUES ($1, $2, $3, $4::text::jsonb, $5)', [id, storeId, path, JSON.stringify(withoutContent(memory)), content]);
      return 'created';
    });
  }

  /** Deletes the memory at `path` (a version records it); false when no memory holds the path. */
  async deletePath(storeId: string, path: string, actor: Actor): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      await writableStore(tx, storeId);
      const rows = await tx.query<MemoryRow>('SELECT id FROM memories WHERE memory_store_id = $1 AND path = $2 FOR UPDATE', [storeId, path]);
      if (!rows[0]) return false;
      await addVersion(tx, { storeId, memoryId: rows[0].id, operation: 'deleted', path, content: null, actor, now: new Date().toISOString() });
      await tx.query('DELETE FROM memories WHERE id = $1', [rows[0].id]);
      return true;
    });
  }

  /**
   * Memories under `prefix`, by path. With `depth`, those deeper than `depth` segments
   * below the prefix are rolled up into one `memory_prefix` per folder at that depth.
   * The cursor is the last path listed; after a prefix the next page starts past all
   * of its paths ("/a/" + everything sorts before "/a0").
   */
  async listMemories(storeId: string, { limit, cursor, prefix = '/', depth = 0, withContent }: { limit: number; cursor?: Cursor | undefined; prefix?: string | undefined; depth?: number | undefined; withContent: boolean }): Promise<Page<Memory | MemoryPrefix>> {
    await this.retrieve(storeId);
    const items: (Memory | MemoryPrefix)[] = [];
    // The cursor's id is where to go on: "(" + a path to start after, or "[" + one to start at.
    let after = cursor?.id.slice(1) ?? '';
    let inclusive = cursor?.id.startsWith('[') ?? false;
    const prefixDepth = prefix.split('/').length - 1;
    while (items.length <= limit) {
      const rows = await this.#db.query<MemoryRow>(
        `SELECT id, path, record, ${withContent ? 'content' : "'' AS content"} FROM memories
          WHERE memory_store_id = $1 AND path LIKE $2 AND path ${inclusive ? '>=' : '>'} $3 ORDER BY path LIMIT $4`,
        [storeId, `${likeEscape(prefix)}%`, after, limit + 1 - items.length],
      );
      if (rows.length === 0) break;
      let skipped = false;
      for (const row of rows) {
        const segments = row.path.split('/');
        if (depth > 0 && segments.length - prefixDepth > depth) {
          // Deeper than `depth`: its folder at that depth stands for it and its siblings.
          const folder = `${segments.slice(0, prefixDepth + depth).join('/')}/`;
          items.push({ type: 'memory_prefix', path: folder });
          after = `${folder.slice(0, -1)}0`;
          inclusive = true;
          skipped = true;
          break;
        }
        items.push(withContent ? { ...row.record, content: row.content } : { ...row.record, content: null });
        after = row.path;
        inclusive = false;
        if (items.length > limit) break;
      }
      if (!skipped && rows.length < limit + 1) break;
    }
    const more = items.length > limit;
    const page = items.slice(0, limit);
    const last = page.at(-1);
    // Past a prefix's whole folder (at the first path that sorts after it), or past a memory.
    const position = last ? (last.type === 'memory_prefix' ? `[${last.path.slice(0, -1)}0` : `(${last.path}`) : '';
    return {
      data: page,
      next_page: more && last ? encodeCursor({ direction: 'next', createdAt: new Date(0).toISOString(), id: position }) : null,
      prev_page: null,
    };
  }

  // ── Versions ──────────────────────────────────────────────────────────────

  async retrieveVersion(storeId: string, id: string): Promise<MemoryVersion> {
    const rows = await this.#db.query<VersionRow>('SELECT record, content FROM memory_versions WHERE id = $1 AND memory_store_id = $2', [id, storeId]);
    if (!rows[0]) throw new NotFoundError(`memory version ${id} not found in memory store ${storeId}`);
    return { ...rows[0].record, content: rows[0].content };
  }

  async listVersions(
    storeId: string,
    { limit, cursor, memoryId, operation, sessionId, apiKeyId, createdAtGte, createdAtLte, withContent }: {
      limit: number;
      cursor?: Cursor | undefined;
      memoryId?: string | undefined;
      operation?: MemoryVersion['operation'] | undefined;
      sessionId?: string | undefined;
      apiKeyId?: string | undefined;
      createdAtGte?: string | undefined;
      createdAtLte?: string | undefined;
      withContent: boolean;
    },
  ): Promise<Page<MemoryVersion>> {
    await this.retrieve(storeId);
    const filters = new SqlFilters().add('memory_store_id = ?', storeId).createdAt({ gte: createdAtGte, lte: createdAtLte });
    if (memoryId !== undefined) filters.add('memory_id = ?', memoryId);
    if (operation !== undefined) filters.add('operation = ?', operation);
    if (sessionId !== undefined) filters.add('session_id = ?', sessionId);
    if (apiKeyId !== undefined) filters.add('api_key_id = ?', apiKeyId);
    return keysetPage<VersionRow, MemoryVersion>({
      db: this.#db,
      select: 'SELECT id, record, content, created_at FROM memory_versions',
      ...filters,
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => ({ ...row.record, content: withContent ? row.content : null }),
    });
  }

  /**
   * Removes a version's content for good (its metadata stays). The version a live memory
   * shows cannot be redacted: change or delete the memory first.
   */
  async redactVersion(storeId: string, id: string, actor: Actor): Promise<MemoryVersion> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<VersionRow>('SELECT record, content FROM memory_versions WHERE id = $1 AND memory_store_id = $2 FOR UPDATE', [id, storeId]);
      const row = rows[0];
      if (!row) throw new NotFoundError(`memory version ${id} not found in memory store ${storeId}`);
      if (row.record.redacted_at !== null) return { ...row.record, content: null };
      const live = await tx.query<{ id: string }>("SELECT id FROM memories WHERE id = $1 AND record->>'memory_version_id' = $2", [row.record.memory_id, id]);
      if (live[0]) throw new ConflictError(`memory version ${id} is the current content of memory ${row.record.memory_id}; change or delete the memory before redacting it`);
      const next: Omit<MemoryVersion, 'content'> = { ...row.record, content_sha256: null, content_size_bytes: null, redacted_at: new Date().toISOString(), redacted_by: actor };
      await tx.query('UPDATE memory_versions SET record = $2::text::jsonb, content = NULL WHERE id = $1', [id, JSON.stringify(next)]);
      return { ...next, content: null };
    });
  }
}

function memoryOf({ id, storeId, path, content, versionId, createdAt, updatedAt }: { id: string; storeId: string; path: string; content: string; versionId: string; createdAt: string; updatedAt: string }): Memory {
  return {
    id,
    type: 'memory',
    memory_store_id: storeId,
    memory_version_id: versionId,
    path,
    content,
    content_sha256: sha256Hex(content),
    content_size_bytes: Buffer.byteLength(content, 'utf8'),
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

const withoutContent = ({ content: _content, ...rest }: Memory): Omit<Memory, 'content'> => rest;

async function addVersion(
  tx: SqlExecutor,
  { storeId, memoryId, operation, path, content, actor, now }: { storeId: string; memoryId: string; operation: MemoryVersion['operation']; path: string; content: string | null; actor: Actor; now: string },
): Promise<MemoryVersion> {
  const version: MemoryVersion = {
    id: newId('memver'),
    type: 'memory_version',
    memory_id: memoryId,
    memory_store_id: storeId,
    operation,
    path,
    content,
    content_sha256: content === null ? null : sha256Hex(content),
    content_size_bytes: content === null ? null : Buffer.byteLength(content, 'utf8'),
    created_by: actor,
    created_at: now,
    redacted_at: null,
  };
  const { content: _content, ...record } = version;
  await tx.query(
    'INSERT INTO memory_versions (id, memory_store_id, memory_id, operation, session_id, api_key_id, record, content, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9)',
    [version.id, storeId, memoryId, operation, actor.type === 'session_actor' ? actor.session_id : null, actor.type === 'api_actor' ? actor.api_key_id : null, JSON.stringify(record), content, now],
  );
  return version;
}

async function lockStore(tx: SqlExecutor, id: string): Promise<MemoryStore> {
  const rows = await tx.query<StoreRow>('SELECT record FROM memory_stores WHERE id = $1 FOR UPDATE', [id]);
  if (!rows[0]) throw new NotFoundError(`memory store ${id} not found`);
  return rows[0].record;
}

/** The store, which must not be archived; its row is share-locked so an archive waits for the write. */
async function liveStore(tx: SqlExecutor, id: string): Promise<MemoryStore> {
  const rows = await tx.query<StoreRow>('SELECT record FROM memory_stores WHERE id = $1 FOR SHARE', [id]);
  if (!rows[0]) throw new NotFoundError(`memory store ${id} not found`);
  if (rows[0].record.archived_at !== null) throw new ConflictError(`memory store ${id} is archived: its memories are read-only`);
  return rows[0].record;
}

/** The store locked for a write by path (see `writePath`); it must not be archived. */
async function writableStore(tx: SqlExecutor, id: string): Promise<MemoryStore> {
  const store = await lockStore(tx, id);
  if (store.archived_at !== null) throw new ConflictError(`memory store ${id} is archived: its memories are read-only`);
  return store;
}

async function lockMemory(tx: SqlExecutor, storeId: string, id: string): Promise<Memory> {
  const rows = await tx.query<MemoryRow>('SELECT record, content FROM memories WHERE id = $1 AND memory_store_id = $2 FOR UPDATE', [id, storeId]);
  if (!rows[0]) throw new NotFoundError(`memory ${id} not found in memory store ${storeId}`);
  return { ...rows[0].record, content: rows[0].content };
}

async function checkPathFree(tx: SqlExecutor, storeId: string, path: string, self: string | undefined): Promise<void> {
  const rows = await tx.query<{ id: string }>('SELECT id FROM memories WHERE memory_store_id = $1 AND path = $2', [storeId, path]);
  if (rows[0] && rows[0].id !== self) throw new MemoryPathConflictError(rows[0].id, path);
}

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
