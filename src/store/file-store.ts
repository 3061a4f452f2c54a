import { join } from 'node:path';
import { NotFoundError } from '../errors.ts';
import type { FileMetadata, FileResource } from '../schemas/api-file.ts';
import { keysetPage } from './keyset-page.ts';
import type { Cursor, Page } from './page-cursor.ts';
import type { SqlDriver } from './sql-driver.ts';

type FileRow = { id: string; record: FileMetadata; created_at: string };
type ResourceRow = { id: string; record: FileResource; created_at: string };

/**
 * Metadata of uploaded files, and the file resources mounted into sessions.
 * The bytes are not here: the API keeps them in its files folder.
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

  async delete(id: string): Promise<void> {
    const rows = await this.#db.query<{ id: string }>('DELETE FROM files WHERE id = $1 RETURNING id', [id]);
    if (!rows[0]) throw new NotFoundError(`file ${id} not found`);
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

const FILE_ID = /^file_[A-Za-z0-9]{1,64}$/;

/**
 * Where the bytes of file `id` live under the API's files folder. Throws on an
 * id that is not a file id, so no request can name a path outside the folder.
 */
export function storedFilePath(filesDir: string, id: string): string {
  if (!FILE_ID.test(id)) throw new NotFoundError(`file ${id} not found`);
  return join(filesDir, id);
}
