import { applyMetadataPatch } from '../schemas/api-common.ts';
import { resolveCloudConfig, type Environment, type EnvironmentCreateParams, type EnvironmentUpdateParams } from '../schemas/api-environment.ts';
import { InvalidRequestError, NotFoundError } from '../errors.ts';
import { newId } from './ids.ts';
import { keysetPage } from './keyset-page.ts';
import type { Cursor, Page } from './page-cursor.ts';
import type { SqlDriver } from './sql-driver.ts';

type EnvironmentRow = { id: string; record: Environment; created_at: string; archived_at: string | null };

/** Environments: the sandbox template and network policy sessions run in. */
export class EnvironmentStore {
  readonly #db: SqlDriver;

  /** Expects the schema migrated (`migrateSchema` or `SessionStore.open` on the same driver). */
  constructor(db: SqlDriver) {
    this.#db = db;
  }

  async create(params: EnvironmentCreateParams): Promise<Environment> {
    const now = new Date().toISOString();
    const environment: Environment = {
      type: 'environment',
      id: newId('env'),
      name: params.name,
      description: params.description || null,
      config: params.config?.type === 'self_hosted' ? { type: 'self_hosted' } : resolveCloudConfig(params.config),
      metadata: params.metadata ?? {},
      scope: params.scope ?? 'organization',
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    await this.#db.query('INSERT INTO environments (id, record, created_at, updated_at) VALUES ($1, $2::text::jsonb, $3, $3)', [environment.id, JSON.stringify(environment), now]);
    return environment;
  }

  async retrieve(id: string): Promise<Environment> {
    const rows = await this.#db.query<EnvironmentRow>('SELECT record FROM environments WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`environment ${id} not found`);
    return rows[0].record;
  }

  async update(id: string, params: EnvironmentUpdateParams): Promise<Environment> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<EnvironmentRow>('SELECT record FROM environments WHERE id = $1 FOR UPDATE', [id]);
      const current = rows[0]?.record;
      if (!current) throw new NotFoundError(`environment ${id} not found`);
      const now = new Date().toISOString();
      const next: Environment = {
        ...current,
        ...(params.name != null ? { name: params.name } : {}),
        ...(params.description !== undefined ? { description: params.description || null } : {}),
        ...(params.config != null ? { config: updatedConfig(id, current.config, params.config) } : {}),
        ...(params.scope != null ? { scope: params.scope } : {}),
        metadata: applyMetadataPatch(current.metadata, params.metadata),
        updated_at: now,
      };
      await tx.query('UPDATE environments SET record = $2::text::jsonb, updated_at = $3 WHERE id = $1', [id, JSON.stringify(next), now]);
      return next;
    });
  }

  async archive(id: string): Promise<Environment> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<EnvironmentRow>('SELECT record FROM environments WHERE id = $1 FOR UPDATE', [id]);
      const current = rows[0]?.record;
      if (!current) throw new NotFoundError(`environment ${id} not found`);
      if (current.archived_at !== null) return current;
      const now = new Date().toISOString();
      const next: Environment = { ...current, archived_at: now, updated_at: now };
      await tx.query('UPDATE environments SET record = $2::text::jsonb, updated_at = $3, archived_at = $3 WHERE id = $1', [id, JSON.stringify(next), now]);
      return next;
    });
  }

  async delete(id: string): Promise<void> {
    const rows = await this.#db.query<{ id: string }>('DELETE FROM environments WHERE id = $1 RETURNING id', [id]);
    if (!rows[0]) throw new NotFoundError(`environment ${id} not found`);
  }

  async list({ limit, cursor, includeArchived = false }: { limit: number; cursor?: Cursor | undefined; includeArchived?: boolean | undefined }): Promise<Page<Environment>> {
    return keysetPage<EnvironmentRow, Environment>({
      db: this.#db,
      select: 'SELECT id, record, created_at, archived_at FROM environments',
      where: includeArchived ? [] : ['archived_at IS NULL'],
      params: [],
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }
}

/** An environment's config after an update; its type (cloud or self-hosted) is fixed at creation. */
function updatedConfig(id: string, current: Environment['config'], given: NonNullable<EnvironmentUpdateParams['config']>): Environment['config'] {
  if (given.type !== current.type) throw new InvalidRequestError(`config.type: environment ${id} is ${current.type}; its type cannot change after creation`);
  return given.type === 'self_hosted' || current.type === 'self_hosted' ? { type: 'self_hosted' } : resolveCloudConfig(given, current);
}
