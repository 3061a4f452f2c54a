import { NotFoundError } from '../errors.ts';
import type { TimeRange } from '../schemas/api-common.ts';
import { FINAL_DREAM_STATUSES, type Dream, type DreamStatus } from '../schemas/api-dream.ts';
import { keysetPage } from './keyset-page.ts';
import type { Cursor, Page } from './page-cursor.ts';
import { SqlFilters } from './sql-filters.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';

type DreamRow = { id: string; record: Dream; created_at: string };

export type ListDreamsOptions = {
  limit: number;
  cursor?: Cursor | undefined;
  statuses?: readonly DreamStatus[] | undefined;
  includeArchived?: boolean | undefined;
  createdAt?: TimeRange | undefined;
};

/** What may change of a dream besides its status. */
export type DreamPatch = Partial<Pick<Dream, 'outputs' | 'session_id' | 'usage' | 'archived_at'>>;

/**
 * Dreams. Status changes go through `transition`, which takes the row lock and changes
 * only a dream in one of the expected statuses: a cancel and the run's own finish can
 * race, and whichever comes first is final.
 */
export class DreamStore {
  readonly #db: SqlDriver;

  /** Expects the schema migrated (`migrateSchema` or `openApiStores` on the same driver). */
  constructor(db: SqlDriver) {
    this.#db = db;
  }

  async create(dream: Dream): Promise<Dream> {
    await this.#db.query('INSERT INTO dreams (id, status, record, created_at, archived_at) VALUES ($1, $2, $3::text::jsonb, $4, $5)', [
      dream.id,
      dream.status,
      JSON.stringify(dream),
      dream.created_at,
      dream.archived_at,
    ]);
    return dream;
  }

  async retrieve(id: string): Promise<Dream> {
    const rows = await this.#db.query<DreamRow>('SELECT record FROM dreams WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`dream ${id} not found`);
    return rows[0].record;
  }

  /** Newest first. */
  async list({ limit, cursor, statuses, includeArchived = false, createdAt }: ListDreamsOptions): Promise<Page<Dream>> {
    const filters = new SqlFilters().createdAt(createdAt);
    if (!includeArchived) filters.require('archived_at IS NULL');
    if (statuses !== undefined) filters.add('status = ANY(?::text[])', [...statuses]);
    return keysetPage<DreamRow, Dream>({ db: this.#db, select: 'SELECT id, record, created_at FROM dreams', ...filters, order: 'desc', limit, cursor, toItem: (row) => row.record });
  }

  /** Changes fields other than the status (outputs, session, usage, archival), whatever the status. */
  async update(id: string, patch: DreamPatch): Promise<Dream> {
    return this.#change(id, (current) => ({ ...current, ...patch }));
  }

  /**
   * Moves the dream to `to.status` (with the other fields of `to`) when its status is one
   * of `from`; otherwise leaves it. Returns the dream as it is after. A final status is
   * never left, whatever `from` says.
   */
  async transition(id: string, { from, to }: { from: readonly DreamStatus[]; to: Partial<Dream> & { status: DreamStatus } }): Promise<Dream> {
    return this.#change(id, (current) => (from.includes(current.status) && !FINAL_DREAM_STATUSES.includes(current.status) ? { ...current, ...to } : current));
  }

  /** The newest dream that read `storeId` and did not fail or get canceled (a scheduled dream starts where it left off). */
  async latestOver(storeId: string): Promise<Dream | undefined> {
    const rows = await this.#db.query<DreamRow>(
      `SELECT record FROM dreams WHERE status NOT IN ('failed', 'canceled') AND record->'inputs' @> $1::text::jsonb ORDER BY created_at DESC, id DESC LIMIT 1`,
      [JSON.stringify([{ type: 'memory_store', memory_store_id: storeId }])],
    );
    return rows[0]?.record;
  }

  /** A `pending` or `running` dream that writes into `storeId`, if any. */
  async activeWriterOf(storeId: string): Promise<Dream | undefined> {
    const rows = await this.#db.query<DreamRow>(
      `SELECT record FROM dreams WHERE status IN ('pending', 'running') AND record->'output_behavior'->>'type' = 'update_existing' AND record->'output_behavior'->>'memory_store_id' = $1 LIMIT 1`,
      [storeId],
    );
    return rows[0]?.record;
  }

  async #change(id: string, next: (current: Dream) => Dream): Promise<Dream> {
    return this.#db.transaction(async (tx) => {
      const current = await lock(tx, id);
      const changed = next(current);
      if (changed === current) return current;
      await tx.query('UPDATE dreams SET status = $2, record = $3::text::jsonb, archived_at = $4 WHERE id = $1', [id, changed.status, JSON.stringify(changed), changed.archived_at]);
      return changed;
    });
  }
}

async function lock(tx: SqlExecutor, id: string): Promise<Dream> {
  const rows = await tx.query<DreamRow>('SELECT record FROM dreams WHERE id = $1 FOR UPDATE', [id]);
  if (!rows[0]) throw new NotFoundError(`dream ${id} not found`);
  return rows[0].record;
}
