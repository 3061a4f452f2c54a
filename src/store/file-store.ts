import { NotFoundError } from '../errors.ts';
import type { FileMetadata, FileResource } from '../schemas/api-file.ts';
import { keysetPage } from './keyset-page.ts';
import type { Cursor, Page } from './page-cursor.ts';
import type { SqlDriver } from './sql-driver.ts';

type FileRow = { id: string; record: FileMetadata; created_at: string };
type ResourceRow = { id: string; record: FileResource; created_at: string };

/** Size of the pieces file content is stored in: large enough to keep round trips few, small enough to never hold a whole file. */
export const FILE_CHUNK_BYTES = 1024 * 1024;

/** What mounting files needs of the store: their bytes. */
export type FileContentReader = Pick<FileStore, 'readContent'>;

/**
 * Uploaded files (metadata and bytes, the bytes in chunks), and the file
 * resources mounted into sessions. The bytes live in the store so an API
 * and workers on other hosts see the same files.
 */
export class FileStore {
  readonly #db: SqlDriver;

  /** Expects the schema migrated (`migrateSchema` or `openApiStores` on the same driver). */
  constructor(db: SqlDriver) {
    this.#db = db;
  }

  async create(file: FileMetadata): Promise<FileMetadata> {
    await this.#db.query('INSERT INTO files (id, record, scope_id, created_at) VALUES ($1, $2::text::jsonb, $3, $4)', [file.id, JSON.stringify(file), file.scope?.id ?? null, file.created_at]);
    return file;
  }

  /** The file, or NotFoundError naming it. */
  async retrieve(id: string): Promise<FileMetadata> {
    const rows = await this.#db.query<FileRow>('SELECT record FROM files WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`file ${id} not found`);
    return rows[0].record;
  }

  /** Removes the file and its bytes. */
  async delete(id: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const rows = await tx.query<{ id: string }>('DELETE FROM files WHERE id = $1 RETURNING id', [id]);
      if (!rows[0]) throw new NotFoundError(`file ${id} not found`);
      await tx.query('DELETE FROM file_chunks WHERE file_id = $1', [id]);
    });
  }

  /**
   * Stores the bytes of file `id` as they arrive, a chunk at a time, and returns
   * their count. Write them before `create` records the file: a file that is
   * listed always has all its bytes. On failure (or more than `maxBytes`) what was
   * written is removed again.
   */
  async writeContent(id: string, source: AsyncIterable<Uint8Array>, { maxBytes = Number.POSITIVE_INFINITY }: { maxBytes?: number } = {}): Promise<number> {
    let total = 0;
    let n = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (data: Buffer) => {
      await this.#db.query('INSERT INTO file_chunks (file_id, n, data) VALUES ($1, $2, $3::bytea)', [id, n++, data]);
    };
    try {
      for await (const piece of source) {
        total += piece.byteLength;
        if (total > maxBytes) throw new FileTooLargeError(maxBytes);
        pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
        pendingBytes += piece.byteLength;
        while (pendingBytes >= FILE_CHUNK_BYTES) {
          const joined = Buffer.concat(pending, pendingBytes);
          await flush(joined.subarray(0, FILE_CHUNK_BYTES));
          pending = [joined.subarray(FILE_CHUNK_BYTES)];
          pendingBytes -= FILE_CHUNK_BYTES;
        }
      }
      if (pendingBytes > 0) await flush(Buffer.concat(pending, pendingBytes));
      return total;
    } catch (error) {
      await this.deleteContent(id);
      throw error;
    }
  }

  /** The bytes of file `id`, a chunk at a time (none for a file without content). */
  async *readContent(id: string): AsyncGenerator<Buffer> {
    for (let n = 0; ; n++) {
      const rows = await this.#db.query<{ data: Uint8Array }>('SELECT data FROM file_chunks WHERE file_id = $1 AND n = $2', [id, n]);
      const data = rows[0]?.data;
      if (data === undefined) return;
      yield Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    }
  }

  /** Removes the bytes of file `id` (an upload that failed). */
  async deleteContent(id: string): Promise<void> {
    await this.#db.query('DELETE FROM file_chunks WHERE file_id = $1', [id]);
  }

  /** Newest first. `ids` gives one page of just those files (unknown ids are left out). */
  async list({ limit, cursor, ids, scopeId }: { limit: number; cursor?: Cursor | undefined; ids?: string[] | undefined; scopeId?: string | undefined }): Promise<Page<FileMetadata>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (ids) {
      params.push(ids);
      where.push(`id = ANY($${params.length}::text[])`);
    }
    if (scopeId !== undefined) {
      params.push(scopeId);
      where.push(`scope_id = $${params.length}`);
    }
    return keysetPage<FileRow, FileMetadata>({ db: this.#db, select: 'SELECT id, record, created_at FROM files', where, params, order: 'desc', limit, cursor, toItem: (row) => row.record });
  }

  async addResource(sessionId: string, resource: FileResource): Promise<FileResource> {
    await this.#db.query('INSERT INTO session_resources (id, session_id, record, created_at) VALUES ($1, $2, $3::text::jsonb, $4)', [resource.id, sessionId, JSON.stringify(resource), resource.created_at]);
    return resource;
  }

  /** The session's resource, or NotFoundError naming it. */
  async retrieveResource(sessionId: string, id: string): Promise<FileResource> {
    const rows = await this.#db.query<ResourceRow>('SELECT record FROM session_resources WHERE session_id = $1 AND id = $2', [sessionId, id]);
    if (!rows[0]) throw new NotFoundError(`resource ${id} of session ${sessionId} not found`);
    return rows[0].record;
  }

  async deleteResource(sessionId: string, id: string): Promise<void> {
    const rows = await this.#db.query<{ id: string }>('DELETE FROM session_resources WHERE session_id = $1 AND id = $2 RETURNING id', [sessionId, id]);
    if (!rows[0]) throw new NotFoundError(`resource ${id} of session ${sessionId} not found`);
  }

  /** Forgets every resource of a session (a create that failed after recording them). */
  async removeResources(sessionId: string): Promise<void> {
    await this.#db.query('DELETE FROM session_resources WHERE session_id = $1', [sessionId]);
  }

  /** In the order they were added. */
  async listResources(sessionId: string, { limit, cursor }: { limit: number; cursor?: Cursor | undefined }): Promise<Page<FileResource>> {
    return keysetPage<ResourceRow, FileResource>({
      db: this.#db,
      select: 'SELECT id, record, created_at FROM session_resources',
      where: ['session_id = $1'],
      params: [sessionId],
      order: 'asc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }
}

/** More bytes than the server accepts for one file. */
export class FileTooLargeError extends Error {
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    super(`file: larger than the ${maxBytes} bytes this server accepts`);
    this.name = 'FileTooLargeError';
    this.maxBytes = maxBytes;
  }
}
