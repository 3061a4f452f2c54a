import type { MemoryStoreResource } from '../schemas/api-memory.ts';
import type { SqlDriver } from './sql-driver.ts';

/** A memory store's path as synced between the store and a session's sandbox, with its content's sha256. */
export type SyncedPath = { path: string; sha256: string };

/** A change in the store since the sandbox was last synced: `content` null means the memory is gone. */
export type StoreChange = { path: string; content: string | null; sha256: string | null; synced: string | null };

/**
 * Which memory stores a session has (`session_memory_stores`), and per store what its
 * sandbox was last synced to (`session_memory_files`). The two sides of a sync are the
 * store (other sessions and the API write there) and the sandbox (the agent writes
 * there); comparing each with the last synced state tells who changed what.
 */
export class SessionMemoryStore {
  readonly #db: SqlDriver;

  /** Expects the schema migrated (`migrateSchema` or `openApiStores` on the same driver). */
  constructor(db: SqlDriver) {
    this.#db = db;
  }

  async attach(sessionId: string, resources: readonly MemoryStoreResource[]): Promise<void> {
    if (resources.length === 0) return;
    await this.#db.transaction(async (tx) => {
      for (const [position, resource] of resources.entries()) {
        // A retried attach (a dream's activity) finds its rows there.
        await tx.query('INSERT INTO session_memory_stores (session_id, position, memory_store_id, record) VALUES ($1, $2, $3, $4::text::jsonb) ON CONFLICT DO NOTHING', [
          sessionId,
          position,
          resource.memory_store_id,
          JSON.stringify(resource),
        ]);
      }
    });
  }

  /** The session's memory store resources, in the order given at creation. */
  async resources(sessionId: string): Promise<MemoryStoreResource[]> {
    const rows = await this.#db.query<{ record: MemoryStoreResource }>('SELECT record FROM session_memory_stores WHERE session_id = $1 ORDER BY position', [sessionId]);
    return rows.map((row) => row.record);
  }

  /** The sessions that attach the store. */
  async sessionsWith(storeId: string): Promise<string[]> {
    const rows = await this.#db.query<{ session_id: string }>('SELECT DISTINCT session_id FROM session_memory_stores WHERE memory_store_id = $1', [storeId]);
    return rows.map((row) => row.session_id);
  }

  /** Forgets the session's memory resources and sync state (the stores keep their memories). */
  async detach(sessionId: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query('DELETE FROM session_memory_files WHERE session_id = $1', [sessionId]);
      await tx.query('DELETE FROM session_memory_stores WHERE session_id = $1', [sessionId]);
    });
  }

  /** What the sandbox was last synced to, per store id. */
  async synced(sessionId: string): Promise<Map<string, SyncedPath[]>> {
    const rows = await this.#db.query<{ memory_store_id: string; path: string; content_sha256: string }>(
      'SELECT memory_store_id, path, content_sha256 FROM session_memory_files WHERE session_id = $1',
      [sessionId],
    );
    const byStore = new Map<string, SyncedPath[]>();
    for (const row of rows) {
      const paths = byStore.get(row.memory_store_id) ?? [];
      paths.push({ path: row.path, sha256: row.content_sha256 });
      byStore.set(row.memory_store_id, paths);
    }
    return byStore;
  }

  /** The store's memories that differ from what the session's sandbox was last synced to, with their content. */
  async storeChanges(sessionId: string, storeId: string): Promise<StoreChange[]> {
    const changed = await this.#db.query<{ path: string; content: string; sha256: string; synced: string | null }>(
      `SELECT m.path, m.content, m.record->>'content_sha256' AS sha256, f.content_sha256 AS synced
         FROM memories m
         LEFT JOIN session_memory_files f ON f.session_id = $1 AND f.memory_store_id = m.memory_store_id AND f.path = m.path
        WHERE m.memory_store_id = $2 AND f.content_sha256 IS DISTINCT FROM m.record->>'content_sha256'`,
      [sessionId, storeId],
    );
    const gone = await this.#db.query<{ path: string; synced: string }>(
      `SELECT f.path, f.content_sha256 AS synced
         FROM session_memory_files f
        WHERE f.session_id = $1 AND f.memory_store_id = $2
          AND NOT EXISTS (SELECT 1 FROM memories m WHERE m.memory_store_id = f.memory_store_id AND m.path = f.path)`,
      [sessionId, storeId],
    );
    return [...changed, ...gone.map((row) => ({ path: row.path, content: null, sha256: null, synced: row.synced }))];
  }

  /** Records paths as synced (`sha256` null: the path is gone on both sides). */
  async recordSynced(sessionId: string, storeId: string, entries: readonly { path: string; sha256: string | null }[]): Promise<void> {
    // One row per path (the last entry wins): an upsert may not touch a row twice.
    const latest = [...new Map(entries.map((e) => [e.path, e])).values()];
    const present = latest.filter((e): e is SyncedPath => e.sha256 !== null);
    const gone = latest.filter((e) => e.sha256 === null).map((e) => e.path);
    if (present.length === 0 && gone.length === 0) return;
    await this.#db.transaction(async (tx) => {
      if (present.length > 0) {
        await tx.query(
          `INSERT INTO session_memory_files (session_id, memory_store_id, path, content_sha256)
           SELECT $1, $2, path, sha FROM unnest($3::text[], $4::text[]) AS t(path, sha)
           ON CONFLICT (session_id, memory_store_id, path) DO UPDATE SET content_sha256 = EXCLUDED.content_sha256`,
          [sessionId, storeId, present.map((e) => e.path), present.map((e) => e.sha256)],
        );
      }
      if (gone.length > 0) {
        await tx.query('DELETE FROM session_memory_files WHERE session_id = $1 AND memory_store_id = $2 AND path = ANY($3::text[])', [sessionId, storeId, gone]);
      }
    });
  }
}
