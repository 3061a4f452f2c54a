import { createHash, randomBytes } from 'node:crypto';
import { LeasePreconditionError, NotFoundError } from '../errors.ts';
import { applyMetadataPatch, type MetadataPatch } from '../schemas/api-common.ts';
import { NO_HEARTBEAT, type Work, type WorkHeartbeatResponse, type WorkQueueStats, type WorkState } from '../schemas/api-work.ts';
import type { WorkLeaseState } from '../schemas/api-work.ts';
import { ConflictError } from './conflict-error.ts';
import { newId } from './ids.ts';
import { keysetPage } from './keyset-page.ts';
import type { Cursor, Page } from './page-cursor.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';

/** Prefixes of the two credentials a self-hosted environment's workers hold: they tell them from API keys at a glance. */
export const ENVIRONMENT_KEY_PREFIX = 'lhk_env_';
export const WORK_TOKEN_PREFIX = 'lhk_work_';

/** Items in these states are the session's one live item: a session never has two. */
const LIVE_STATES: readonly WorkState[] = ['queued', 'starting', 'active'];
const LIVE_SQL = `('queued', 'starting', 'active')`;

type WorkRow = {
  id: string;
  environment_id: string;
  session_id: string;
  state: WorkState;
  metadata: Record<string, string>;
  created_at: string;
  polled_at: string | null;
  acknowledged_at: string | null;
  started_at: string | null;
  latest_heartbeat_at: string | null;
  last_heartbeat: string | null;
  lease_expires_at: string | null;
  ttl_seconds: number;
  stop_requested_at: string | null;
  stopped_at: string | null;
};

/** Who a worker credential belongs to. */
export type WorkTokenOwner = { workId: string; environmentId: string; sessionId: string };

export type WorkQueueOptions = {
  /** Lease a heartbeat grants when it asks for no TTL, and an acknowledged item holds before its first beat. Default 90 s. */
  leaseTtlSeconds?: number;
};

const digestOf = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');
const newSecret = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;
const plusSeconds = (at: Date, seconds: number) => new Date(at.getTime() + seconds * 1000).toISOString();

/**
 * The work queues of self-hosted environments, and the credentials of their workers.
 *
 * An item is queued when a session on the environment needs its tools run and has no live
 * item. A poll hands it out (with a new per-item token); the worker acknowledges it and
 * keeps it by heartbeating a lease. An item polled but not acknowledged in time, or whose
 * lease ran out (its worker died), is handed out again by the next poll. The heartbeat
 * names the last one it saw, so a worker whose item went to another learns it (412).
 * Keys and tokens are kept only as sha256 digests.
 */
export class WorkQueue {
  readonly #db: SqlDriver;
  readonly #leaseTtlSeconds: number;

  constructor(db: SqlDriver, { leaseTtlSeconds = 90 }: WorkQueueOptions = {}) {
    this.#db = db;
    this.#leaseTtlSeconds = leaseTtlSeconds;
  }

  /** A new key for the environment's workers, replacing any earlier one. Returned once: only its digest is kept. */
  async issueEnvironmentKey(environmentId: string): Promise<string> {
    const key = newSecret(ENVIRONMENT_KEY_PREFIX);
    await this.#db.query(
      `INSERT INTO environment_keys (environment_id, key_digest, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (environment_id) DO UPDATE SET key_digest = EXCLUDED.key_digest, created_at = EXCLUDED.created_at`,
      [environmentId, digestOf(key), new Date().toISOString()],
    );
    return key;
  }

  /** The environment an environment key belongs to. */
  async environmentOfKey(key: string): Promise<string | undefined> {
    const rows = await this.#db.query<{ environment_id: string }>('SELECT environment_id FROM environment_keys WHERE key_digest = $1', [digestOf(key)]);
    return rows[0]?.environment_id;
  }

  /** The work item (and its session) a per-item token was issued for, while the item is not stopped. */
  async ownerOfToken(token: string): Promise<WorkTokenOwner | undefined> {
    const rows = await this.#db.query<{ id: string; environment_id: string; session_id: string }>(
      `SELECT w.id, w.environment_id, w.session_id FROM environment_work_tokens t JOIN environment_work w ON w.id = t.work_id
       WHERE t.token_digest = $1 AND w.state <> 'stopped'`,
      [digestOf(token)],
    );
    const row = rows[0];
    return row ? { workId: row.id, environmentId: row.environment_id, sessionId: row.session_id } : undefined;
  }

  /** The session's live item, queued now if it has none. */
  async ensureForSession(environmentId: string, sessionId: string): Promise<Work> {
    const now = new Date().toISOString();
    await this.#db.query(
      `INSERT INTO environment_work (id, environment_id, session_id, state, metadata, created_at, ttl_seconds)
       VALUES ($1, $2, $3, 'queued', '{}'::jsonb, $4, $5)
       ON CONFLICT (session_id) WHERE state IN ${LIVE_SQL} DO NOTHING`,
      [newId('work'), environmentId, sessionId, now, this.#leaseTtlSeconds],
    );
    const rows = await this.#db.query<WorkRow>(`SELECT * FROM environment_work WHERE session_id = $1 AND state IN ${LIVE_SQL}`, [sessionId]);
    // Stopped between the two statements: queue again.
    if (!rows[0]) return this.ensureForSession(environmentId, sessionId);
    return workOf(rows[0]);
  }

  /**
   * Hands out the oldest item waiting: queued and not handed out in the last
   * `reclaimOlderThanMs`, or held by a worker whose lease ran out. It comes with a new
   * token, the item's credential (`secret`); the previous holder's heartbeat now fails.
   */
  async poll(environmentId: string, { reclaimOlderThanMs = 5000, workerId }: { reclaimOlderThanMs?: number; workerId?: string | undefined } = {}): Promise<Work | null> {
    const now = new Date();
    const nowIso = now.toISOString();
    if (workerId !== undefined) {
      await this.#db.query(
        `INSERT INTO environment_workers (environment_id, worker_id, polled_at) VALUES ($1, $2, $3)
         ON CONFLICT (environment_id, worker_id) DO UPDATE SET polled_at = EXCLUDED.polled_at`,
        [environmentId, workerId.slice(0, 256), nowIso],
      );
    }
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<WorkRow>(
        `SELECT * FROM environment_work
         WHERE environment_id = $1 AND (
           (state = 'queued' AND (polled_at IS NULL OR polled_at < $2))
           OR (state IN ('starting', 'active') AND lease_expires_at < $3))
         ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [environmentId, new Date(now.getTime() - reclaimOlderThanMs).toISOString(), nowIso],
      );
      const row = rows[0];
      if (!row) return null;
      // A reclaimed item starts over: the next worker acknowledges it and heartbeats from scratch.
      const [claimed] = await tx.query<WorkRow>(
        `UPDATE environment_work SET state = 'queued', polled_at = $2, acknowledged_at = NULL, last_heartbeat = NULL, lease_expires_at = NULL
         WHERE id = $1 RETURNING *`,
        [row.id, nowIso],
      );
      const token = newSecret(WORK_TOKEN_PREFIX);
      await tx.query('INSERT INTO environment_work_tokens (token_digest, work_id, created_at) VALUES ($1, $2, $3)', [digestOf(token), row.id, nowIso]);
      return { ...workOf(claimed!), secret: Buffer.from(JSON.stringify({ sessions_token: token })).toString('base64url') };
    });
  }

  /** Takes a handed-out item off the queue: `queued` → `starting`, with a lease until its first heartbeat. */
  async ack(environmentId: string, workId: string): Promise<Work> {
    return this.#db.transaction(async (tx) => {
      const row = await this.#locked(tx, environmentId, workId);
      if (row.state !== 'queued' || row.polled_at === null) throw new ConflictError(`work ${workId} is ${row.state === 'queued' ? 'not handed out by a poll yet' : row.state}; only a polled, queued item can be acknowledged`);
      const now = new Date();
      const [next] = await tx.query<WorkRow>(
        `UPDATE environment_work SET state = 'starting', acknowledged_at = $2, lease_expires_at = $3 WHERE id = $1 RETURNING *`,
        [workId, now.toISOString(), plusSeconds(now, row.ttl_seconds)],
      );
      return workOf(next!);
    });
  }

  /**
   * Extends the lease. `expected` must be the last heartbeat the caller saw (`NO_HEARTBEAT`
   * before its first): anything else means the item went to another worker, or was never
   * this caller's to keep.
   */
  async heartbeat(environmentId: string, workId: string, { expected, ttlSeconds }: { expected?: string | undefined; ttlSeconds?: number | undefined }): Promise<WorkHeartbeatResponse> {
    return this.#db.transaction(async (tx) => {
      const row = await this.#locked(tx, environmentId, workId);
      const stored = row.last_heartbeat ?? NO_HEARTBEAT;
      const lease = (): WorkLeaseState => ({ last_heartbeat: row.last_heartbeat, lease_extended: false, state: row.state, ttl_seconds: row.ttl_seconds });
      if (row.state === 'stopping' || row.state === 'stopped') {
        return { type: 'work_heartbeat', last_heartbeat: row.last_heartbeat ?? '', lease_extended: false, state: row.state, ttl_seconds: row.ttl_seconds };
      }
      if (row.state === 'queued') throw new LeasePreconditionError(`work ${workId} is queued: no worker holds its lease (acknowledge it first)`, lease());
      if (expected !== undefined && expected !== stored) {
        throw new LeasePreconditionError(`expected_last_heartbeat ${JSON.stringify(expected)} does not match the lease's last heartbeat ${JSON.stringify(stored)}: another worker may hold work ${workId}`, lease());
      }
      const now = new Date();
      // Strictly later than the last one, so a stale caller never matches by chance.
      const beat = row.last_heartbeat !== null && now.toISOString() <= row.last_heartbeat ? new Date(Date.parse(row.last_heartbeat) + 1) : now;
      const ttl = ttlSeconds ?? row.ttl_seconds;
      const [next] = await tx.query<WorkRow>(
        `UPDATE environment_work SET state = 'active', started_at = COALESCE(started_at, $2), latest_heartbeat_at = $2, last_heartbeat = $2,
           lease_expires_at = $3, ttl_seconds = $4 WHERE id = $1 RETURNING *`,
        [workId, beat.toISOString(), plusSeconds(beat, ttl), ttl],
      );
      return { type: 'work_heartbeat', last_heartbeat: next!.last_heartbeat!, lease_extended: true, state: next!.state, ttl_seconds: ttl };
    });
  }

  /**
   * Stops an item: at once when forced or when no worker took it yet, otherwise `stopping`,
   * which its worker's next heartbeat hears. Stopping a stopped item changes nothing.
   */
  async stop(environmentId: string, workId: string, { force = false }: { force?: boolean } = {}): Promise<Work> {
    return this.#db.transaction(async (tx) => {
      const row = await this.#locked(tx, environmentId, workId);
      if (row.state === 'stopped') return workOf(row);
      const now = new Date().toISOString();
      const immediate = force || row.state === 'queued' || row.state === 'stopping';
      const [next] = await tx.query<WorkRow>(
        `UPDATE environment_work SET state = $2, stop_requested_at = COALESCE(stop_requested_at, $3), stopped_at = $4 WHERE id = $1 RETURNING *`,
        [workId, immediate ? 'stopped' : 'stopping', now, immediate ? now : null],
      );
      return workOf(next!);
    });
  }

  async retrieve(environmentId: string, workId: string): Promise<Work> {
    const rows = await this.#db.query<WorkRow>('SELECT * FROM environment_work WHERE id = $1 AND environment_id = $2', [workId, environmentId]);
    if (!rows[0]) throw new NotFoundError(`work ${workId} not found in environment ${environmentId}`);
    return workOf(rows[0]);
  }

  async updateMetadata(environmentId: string, workId: string, patch: MetadataPatch): Promise<Work> {
    return this.#db.transaction(async (tx) => {
      const row = await this.#locked(tx, environmentId, workId);
      const metadata = applyMetadataPatch(row.metadata, patch);
      const [next] = await tx.query<WorkRow>('UPDATE environment_work SET metadata = $2::text::jsonb WHERE id = $1 RETURNING *', [workId, JSON.stringify(metadata)]);
      return workOf(next!);
    });
  }

  /** The environment's items, newest first. */
  async list(environmentId: string, { limit, cursor }: { limit: number; cursor?: Cursor | undefined }): Promise<Page<Work>> {
    return keysetPage<WorkRow, Work>({
      db: this.#db,
      select: 'SELECT * FROM environment_work',
      where: ['environment_id = $1'],
      params: [environmentId],
      order: 'desc',
      limit,
      cursor,
      toItem: workOf,
    });
  }

  async stats(environmentId: string): Promise<WorkQueueStats> {
    const [counts] = await this.#db.query<{ depth: number | string; pending: number | string; oldest: string | null }>(
      `SELECT COUNT(*) FILTER (WHERE polled_at IS NULL) AS depth, COUNT(*) FILTER (WHERE polled_at IS NOT NULL) AS pending, MIN(created_at) AS oldest
       FROM environment_work WHERE environment_id = $1 AND state = 'queued'`,
      [environmentId],
    );
    const workers = await this.#db.query<{ recent: number | string; ever: number | string }>(
      'SELECT COUNT(*) FILTER (WHERE polled_at >= $2) AS recent, COUNT(*) AS ever FROM environment_workers WHERE environment_id = $1',
      [environmentId, new Date(Date.now() - 30_000).toISOString()],
    );
    return {
      type: 'work_queue_stats',
      depth: Number(counts?.depth ?? 0),
      pending: Number(counts?.pending ?? 0),
      oldest_queued_at: counts?.oldest ?? null,
      // Counted only from polls that named their worker (`Anthropic-Worker-ID`).
      workers_polling: Number(workers[0]?.ever ?? 0) === 0 ? null : Number(workers[0]?.recent ?? 0),
    };
  }

  async #locked(tx: SqlExecutor, environmentId: string, workId: string): Promise<WorkRow> {
    const rows = await tx.query<WorkRow>('SELECT * FROM environment_work WHERE id = $1 AND environment_id = $2 FOR UPDATE', [workId, environmentId]);
    if (!rows[0]) throw new NotFoundError(`work ${workId} not found in environment ${environmentId}`);
    return rows[0];
  }
}

/** True for the states in which an item is its session's live one. */
export const isLiveWork = (state: WorkState) => LIVE_STATES.includes(state);

function workOf(row: WorkRow): Work {
  return {
    type: 'work',
    id: row.id,
    environment_id: row.environment_id,
    state: row.state,
    data: { type: 'session', id: row.session_id },
    metadata: row.metadata ?? {},
    secret: null,
    created_at: row.created_at,
    acknowledged_at: row.acknowledged_at,
    started_at: row.started_at,
    latest_heartbeat_at: row.latest_heartbeat_at,
    stop_requested_at: row.stop_requested_at,
    stopped_at: row.stopped_at,
  };
}
