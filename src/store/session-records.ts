import { applyMetadataPatch } from '../schemas/api-common.ts';
import type { AgentDefinition } from '../schemas/agent.ts';
import type { BudgetLimit, SessionAgent, SessionUpdateParams } from '../schemas/api-session.ts';
import type { EnvironmentDefinition } from '../schemas/environment.ts';
import { NotFoundError } from '../errors.ts';
import { keysetPage } from './keyset-page.ts';
import type { Cursor, Page } from './page-cursor.ts';
import type { SqlDriver } from './sql-driver.ts';

/**
 * A session's one record: what its workflow runs (`definition`), what a client of the
 * API named when it created it (the agent version and environment), and what the API
 * lets a client change. Its status and usage are not here: the event log tells them.
 */
export type SessionRecord = {
  id: string;
  /** What the session's workflow runs, resolved when it was created. */
  definition: { agent: AgentDefinition; environment: EnvironmentDefinition };
  /** The agent version an API client named (overrides applied); absent for a library session started with an inline definition. */
  agent?: SessionAgent | undefined;
  /** The environment an API client named; absent for library sessions. */
  environment_id?: string | undefined;
  /** The deployment whose run created the session; absent otherwise. */
  deployment_id?: string | undefined;
  title: string | null;
  metadata: Record<string, string>;
  /** Absent on sessions created before vaults existed. */
  vault_ids?: string[] | undefined;
  budget?: BudgetLimit | null | undefined;
  /**
   * Set when a client gave an idle session work (a message, an answer): the log's
   * last event then. Until the session records a newer status it counts as running.
   */
  turn_requested_after_seq?: number | undefined;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
};

/** A session an API client created: it names an agent version and an environment. */
export type ApiSessionRecord = SessionRecord & { agent: SessionAgent; environment_id: string };

export function isApiSession(record: SessionRecord): record is ApiSessionRecord {
  return record.agent !== undefined && record.environment_id !== undefined;
}

type Row = { id: string; record: SessionRecord; created_at: string; archived_at: string | null };

export type ListSessionsOptions = {
  limit: number;
  cursor?: Cursor | undefined;
  order?: 'asc' | 'desc' | undefined;
  includeArchived?: boolean | undefined;
  agentId?: string | undefined;
  agentVersion?: number | undefined;
  deploymentId?: string | undefined;
  /** Only these sessions. */
  ids?: readonly string[] | undefined;
  createdAt?: { gt?: string | undefined; gte?: string | undefined; lt?: string | undefined; lte?: string | undefined } | undefined;
};

/**
 * The `sessions` table: one row per session, written when it is created (by the API or
 * a library client alike), changed by update and archive, marked deleted at once by
 * DELETE and removed with the rest of its rows when the session's workflow purges it.
 */
export class SessionRecords {
  readonly #db: SqlDriver;

  /** Expects the schema migrated (`migrateSchema` or `SessionStore.open` on the same driver). */
  constructor(db: SqlDriver) {
    this.#db = db;
  }

  async create(record: SessionRecord): Promise<void> {
    await this.#db.query(
      'INSERT INTO sessions (id, record, agent_id, environment_id, created_at, updated_at) VALUES ($1, $2::text::jsonb, $3, $4, $5, $5)',
      [record.id, JSON.stringify(record), record.agent?.id ?? null, record.environment_id ?? null, record.created_at],
    );
  }

  /** Removes the record outright: undoes `create` when the session could not be started. */
  async remove(id: string): Promise<void> {
    await this.#db.query('DELETE FROM sessions WHERE id = $1', [id]);
  }

  /** Hides the record from retrieve and list at once; the session's workflow deletes it with its other rows. */
  async markDeleted(id: string): Promise<void> {
    await this.#db.query('UPDATE sessions SET deleted_at = $2 WHERE id = $1', [id, new Date().toISOString()]);
  }

  /** The session's record; deleted sessions are not found. */
  async retrieve(id: string): Promise<SessionRecord> {
    const rows = await this.#db.query<Row>('SELECT record FROM sessions WHERE id = $1 AND deleted_at IS NULL', [id]);
    if (!rows[0]) throw new NotFoundError(`session ${id} not found`);
    return rows[0].record;
  }

  /** Applies an update; `agent` is the session's agent as the update leaves it (snapshot and definition). */
  async update(id: string, params: SessionUpdateParams, agent?: { snapshot: SessionAgent; definition: AgentDefinition }): Promise<SessionRecord> {
    return this.#mutate(id, (current) => ({
      ...current,
      ...(agent ? { agent: agent.snapshot, definition: { ...current.definition, agent: agent.definition } } : {}),
      ...(params.title !== undefined ? { title: params.title ?? null } : {}),
      ...(params.budget !== undefined ? { budget: params.budget } : {}),
      ...(params.vault_ids !== undefined ? { vault_ids: params.vault_ids } : {}),
      metadata: applyMetadataPatch(current.metadata, params.metadata),
    }));
  }

  /** Notes that the session was given work when its log ended at `afterSeq`. */
  async markTurnRequested(id: string, afterSeq: number): Promise<void> {
    // One statement, on every turn's path: the mark only grows, and the rest of the record is
    // not read, parsed and written back (a transaction of four round trips before).
    const rows = await this.#db.query(
      `UPDATE sessions SET record = jsonb_set(record, '{turn_requested_after_seq}', to_jsonb(GREATEST($2::bigint, COALESCE((record->>'turn_requested_after_seq')::bigint, 0)))), updated_at = $3
       WHERE id = $1 AND deleted_at IS NULL RETURNING id`,
      [id, afterSeq, new Date().toISOString()],
    );
    if (rows.length === 0) throw new NotFoundError(`session ${id} not found`);
  }

  async archive(id: string): Promise<SessionRecord> {
    return this.#mutate(id, (current, now) => ({ ...current, archived_at: current.archived_at ?? now }));
  }

  /** Sessions API clients created (library sessions have no agent version to show). */
  async listApiSessions({ limit, cursor, order = 'desc', includeArchived = false, agentId, agentVersion, deploymentId, ids, createdAt = {} }: ListSessionsOptions): Promise<Page<ApiSessionRecord>> {
    const where = ['deleted_at IS NULL', 'agent_id IS NOT NULL'];
    const params: unknown[] = [];
    const add = (condition: (n: string) => string, value: unknown) => {
      params.push(value);
      where.push(condition(`$${params.length}`));
    };
    if (!includeArchived) where.push('archived_at IS NULL');
    if (agentId !== undefined) add((n) => `agent_id = ${n}`, agentId);
    if (agentVersion !== undefined) add((n) => `(record->'agent'->>'version')::integer = ${n}`, agentVersion);
    if (deploymentId !== undefined) add((n) => `record->>'deployment_id' = ${n}`, deploymentId);
    if (ids !== undefined) add((n) => `id = ANY(${n}::text[])`, [...ids]);
    if (createdAt.gt !== undefined) add((n) => `created_at > ${n}`, createdAt.gt);
    if (createdAt.gte !== undefined) add((n) => `created_at >= ${n}`, createdAt.gte);
    if (createdAt.lt !== undefined) add((n) => `created_at < ${n}`, createdAt.lt);
    if (createdAt.lte !== undefined) add((n) => `created_at <= ${n}`, createdAt.lte);
    return keysetPage<Row, ApiSessionRecord>({
      db: this.#db,
      select: 'SELECT id, record, created_at, archived_at FROM sessions',
      where,
      params,
      order,
      limit,
      cursor,
      toItem: (row) => row.record as ApiSessionRecord,
    });
  }

  async #mutate(id: string, change: (current: SessionRecord, now: string) => SessionRecord): Promise<SessionRecord> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<Row>('SELECT record FROM sessions WHERE id = $1 AND deleted_at IS NULL FOR UPDATE', [id]);
      const current = rows[0]?.record;
      if (!current) throw new NotFoundError(`session ${id} not found`);
      const now = new Date().toISOString();
      const next = { ...change(current, now), updated_at: now };
      await tx.query('UPDATE sessions SET record = $2::text::jsonb, updated_at = $3, archived_at = $4 WHERE id = $1', [id, JSON.stringify(next), now, next.archived_at]);
      return next;
    });
  }
}
