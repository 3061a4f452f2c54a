import { isDeepStrictEqual } from 'node:util';
import { applyMetadataPatch } from '../schemas/api-common.ts';
import { SELF_VERSION, agentSpecProblem, applyAgentUpdate, type Agent, type AgentReference, type AgentSpec, type Multiagent, type ResolvedAgentUpdate } from '../schemas/api-agent.ts';
import { InvalidRequestError, NotFoundError } from '../errors.ts';
import { ConflictError } from './conflict-error.ts';
import { newId } from './ids.ts';
import { keysetPage } from './keyset-page.ts';
import { encodeCursor, type Cursor, type Page } from './page-cursor.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';

type AgentRow = { id: string; latest_version: number; created_at: string; updated_at: string; archived_at: string | null };
type VersionRow = { version: number; spec: AgentSpec; created_at: string };

export type ListAgentsOptions = {
  limit: number;
  cursor?: Cursor | undefined;
  includeArchived?: boolean | undefined;
  createdAtGte?: string | undefined;
  createdAtLte?: string | undefined;
};

/**
 * Agents and their immutable versions. An update that changes anything writes
 * version n+1; a session pins the version it started with.
 */
export class AgentStore {
  readonly #db: SqlDriver;

  /** Expects the schema migrated (`migrateSchema` or `SessionStore.open` on the same driver). */
  constructor(db: SqlDriver) {
    this.#db = db;
  }

  /** A new agent; `id` when the caller made it first (a roster's `self` entry names it). */
  async create(spec: AgentSpec, id = newId('agent')): Promise<Agent> {
    const now = new Date().toISOString();
    await this.#db.transaction(async (tx) => {
      await tx.query('INSERT INTO agents (id, latest_version, created_at, updated_at) VALUES ($1, 1, $2, $2)', [id, now]);
      await tx.query('INSERT INTO agent_versions (agent_id, version, spec, created_at) VALUES ($1, 1, $2::text::jsonb, $3)', [id, JSON.stringify(spec), now]);
    });
    return toAgent({ id, latest_version: 1, created_at: now, updated_at: now, archived_at: null }, { version: 1, spec, created_at: now });
  }

  /** The latest version, or the given one. */
  async retrieve(id: string, version?: number): Promise<Agent> {
    const agent = await this.#agentRow(this.#db, id);
    const wanted = version ?? Number(agent.latest_version);
    const rows = await this.#db.query<VersionRow>('SELECT version, spec, created_at FROM agent_versions WHERE agent_id = $1 AND version = $2', [id, wanted]);
    const row = rows[0];
    if (!row) throw new NotFoundError(`agent ${id} has no version ${wanted}`);
    return toAgent(agent, row);
  }

  /**
   * Applies `params` to the latest version. With `params.version`, fails with
   * a `ConflictError` unless that is still the latest. No change, no new version.
   */
  async update(id: string, params: ResolvedAgentUpdate): Promise<Agent> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<AgentRow>('SELECT id, latest_version, created_at, updated_at, archived_at FROM agents WHERE id = $1 FOR UPDATE', [id]);
      const agent = rows[0];
      if (!agent) throw new NotFoundError(`agent ${id} not found`);
      const latest = Number(agent.latest_version);
      if (params.version !== undefined && params.version !== latest) {
        throw new ConflictError(`agent ${id} is at version ${latest}, not ${params.version}: retrieve it and apply your change again`);
      }
      if (agent.archived_at !== null) throw new ConflictError(`agent ${id} is archived`);
      const current = (await tx.query<VersionRow>('SELECT version, spec, created_at FROM agent_versions WHERE agent_id = $1 AND version = $2', [id, latest]))[0]!;
      const next = applyAgentUpdate(current.spec, params, (patch) => applyMetadataPatch(current.spec.metadata, patch));
      const problem = agentSpecProblem(next);
      if (problem) throw new InvalidRequestError(problem);
      // The stored spec comes back from jsonb with its keys reordered: compare values, not text
      // (as JSON, so an absent key and an undefined one are the same, as they are once stored).
      if (isDeepStrictEqual(JSON.parse(JSON.stringify(next)), current.spec)) return toAgent(agent, current);
      const now = new Date().toISOString();
      const version = latest + 1;
      await tx.query('INSERT INTO agent_versions (agent_id, version, spec, created_at) VALUES ($1, $2, $3::text::jsonb, $4)', [id, version, JSON.stringify(next), now]);
      await tx.query('UPDATE agents SET latest_version = $2, updated_at = $3 WHERE id = $1', [id, version, now]);
      return toAgent({ ...agent, latest_version: version, updated_at: now }, { version, spec: next, created_at: now });
    });
  }

  async archive(id: string): Promise<Agent> {
    const now = new Date().toISOString();
    await this.#db.query('UPDATE agents SET archived_at = COALESCE(archived_at, $2), updated_at = $2 WHERE id = $1', [id, now]);
    return this.retrieve(id);
  }

  async list({ limit, cursor, includeArchived = false, createdAtGte, createdAtLte }: ListAgentsOptions): Promise<Page<Agent>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (!includeArchived) where.push('a.archived_at IS NULL');
    if (createdAtGte !== undefined) {
      params.push(createdAtGte);
      where.push(`a.created_at >= $${params.length}`);
    }
    if (createdAtLte !== undefined) {
      params.push(createdAtLte);
      where.push(`a.created_at <= $${params.length}`);
    }
    return keysetPage<AgentRow & VersionRow, Agent>({
      db: this.#db,
      select: `SELECT a.id, a.latest_version, a.created_at, a.updated_at, a.archived_at, v.version, v.spec, v.created_at AS version_created_at
               FROM agents a JOIN agent_versions v ON v.agent_id = a.id AND v.version = a.latest_version`,
      where,
      params,
      order: 'desc',
      limit,
      cursor,
      keyPrefix: 'a.',
      toItem: (row) => toAgent(row, { version: row.version, spec: row.spec, created_at: row.updated_at }),
    });
  }

  /** Every version of an agent, newest first. */
  async listVersions(id: string, { limit, cursor }: { limit: number; cursor?: Cursor | undefined }): Promise<Page<Agent>> {
    const agent = await this.#agentRow(this.#db, id);
    const before = cursor?.direction === 'next' ? Number(cursor.id) : Number(agent.latest_version) + 1;
    const rows = await this.#db.query<VersionRow>(
      'SELECT version, spec, created_at FROM agent_versions WHERE agent_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3',
      [id, before, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      data: page.map((row) => toAgent(agent, row)),
      next_page: rows.length > limit && last ? encodeCursor({ direction: 'next', createdAt: last.created_at, id: String(last.version) }) : null,
      prev_page: null,
    };
  }

  async #agentRow(db: SqlExecutor, id: string): Promise<AgentRow> {
    const rows = await db.query<AgentRow>('SELECT id, latest_version, created_at, updated_at, archived_at FROM agents WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`agent ${id} not found`);
    return rows[0];
  }
}

function toAgent(agent: AgentRow, version: VersionRow): Agent {
  const latest = Number(version.version) === Number(agent.latest_version);
  return {
    type: 'agent',
    id: agent.id,
    version: Number(version.version),
    ...version.spec,
    multiagent: withSelfPinned(version.spec.multiagent ?? null, agent.id, Number(version.version)),
    created_at: agent.created_at,
    updated_at: latest ? agent.updated_at : version.created_at,
    archived_at: agent.archived_at,
  };
}

/**
 * A roster's `self` entry is stored as this agent at version 0 (the version being written
 * is not known when it is resolved); shown, it names the version that holds it.
 */
function withSelfPinned(multiagent: Multiagent | null, id: string, version: number): Multiagent | null {
  if (multiagent === null) return null;
  const pin = (ref: AgentReference): AgentReference => (ref.id === id && ref.version === SELF_VERSION ? { ...ref, version } : ref);
  if (multiagent.type === 'coordinator') return { ...multiagent, agents: multiagent.agents.map(pin) };
  if (multiagent.subagents.type === 'disabled') return multiagent;
  return { ...multiagent, subagents: { ...multiagent.subagents, predefined_agents: multiagent.subagents.predefined_agents.map(pin) } };
}
