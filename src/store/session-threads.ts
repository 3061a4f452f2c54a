import type { ThreadRecord } from '../../workflows/contract.ts';
import { sumUsage, usageFrom, type Usage } from '../core/usage.ts';
import type { SqlDriver } from './sql-driver.ts';

/** A thread's stored record: who it is, and when it began and was archived. Its status and usage come from its log. */
export type StoredThread = ThreadRecord & { createdAt: string; archivedAt: string | null };

type Row = { id: string; session_id: string; parent_thread_id: string; agent_id: string; agent_version: number; agent_name: string; created_at: string; archived_at: string | null };

/**
 * The `session_threads` table: one row per thread a session started (the primary thread
 * has none; it is the session). A thread's events and transcript are a log of their own,
 * kept under the thread's id in the session tables.
 */
export class SessionThreads {
  readonly #db: SqlDriver;

  constructor(db: SqlDriver) {
    this.#db = db;
  }

  /**
   * Records a thread before it starts, if the session has fewer than `limit` threads
   * (counted under a lock on the session's record, so starters racing in different
   * threads cannot pass it together). True when the thread is recorded, now or before.
   */
  async reserve(thread: ThreadRecord, limit: number): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      await tx.query('SELECT id FROM sessions WHERE id = $1 FOR UPDATE', [thread.sessionId]);
      const [known] = await tx.query<{ id: string }>('SELECT id FROM session_threads WHERE id = $1', [thread.id]);
      if (known) return true;
      const [{ count } = { count: 0 }] = await tx.query<{ count: number }>('SELECT count(*)::int AS count FROM session_threads WHERE session_id = $1', [thread.sessionId]);
      if (Number(count) >= limit) return false;
      await tx.query(
        'INSERT INTO session_threads (id, session_id, parent_thread_id, agent_id, agent_version, agent_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [thread.id, thread.sessionId, thread.parentThreadId, thread.agentId, thread.agentVersion, thread.agentName, new Date().toISOString()],
      );
      return true;
    });
  }

  /** The session's threads, oldest first. */
  async list(sessionId: string): Promise<StoredThread[]> {
    const rows = await this.#db.query<Row>('SELECT * FROM session_threads WHERE session_id = $1 ORDER BY created_at, id', [sessionId]);
    return rows.map(threadOf);
  }

  async get(sessionId: string, threadId: string): Promise<StoredThread | undefined> {
    const rows = await this.#db.query<Row>('SELECT * FROM session_threads WHERE session_id = $1 AND id = $2', [sessionId, threadId]);
    return rows[0] && threadOf(rows[0]);
  }

  /**
   * Records what one log of a multi-agent session (the primary's, or a thread's) has
   * spent on its own model calls, as of its latest one. Idempotent: a retried call
   * writes the same totals.
   */
  async recordSpend(sessionId: string, logId: string, usage: Usage, costNanos: number): Promise<void> {
    await this.#db.query(
      `INSERT INTO session_spend (session_id, log_id, usage, cost_nanos) VALUES ($1, $2, $3::text::jsonb, $4)
       ON CONFLICT (log_id) DO UPDATE SET usage = EXCLUDED.usage, cost_nanos = EXCLUDED.cost_nanos`,
      [sessionId, logId, JSON.stringify(usage), costNanos],
    );
  }

  /** What the session's logs have spent, all but `exceptLogId`'s: the rest of the session, for one log's budget check. */
  async spent(sessionId: string, { exceptLogId = '' }: { exceptLogId?: string } = {}): Promise<{ usage: Usage; costNanos: number; logs: number }> {
    const rows = await this.#db.query<{ usage: Usage; cost_nanos: number }>('SELECT usage, cost_nanos FROM session_spend WHERE session_id = $1 AND log_id <> $2', [sessionId, exceptLogId]);
    return { usage: sumUsage(rows.map((row) => usageFrom(row.usage))), costNanos: rows.reduce((sum, row) => sum + Number(row.cost_nanos), 0), logs: rows.length };
  }

  /** Marks a thread archived (once: the first time stays). */
  async archive(sessionId: string, threadId: string): Promise<void> {
    await this.#db.query('UPDATE session_threads SET archived_at = COALESCE(archived_at, $3) WHERE session_id = $1 AND id = $2', [sessionId, threadId, new Date().toISOString()]);
  }
}

function threadOf(row: Row): StoredThread {
  return {
    id: row.id,
    sessionId: row.session_id,
    parentThreadId: row.parent_thread_id,
    agentId: row.agent_id,
    agentVersion: Number(row.agent_version),
    agentName: row.agent_name,
    createdAt: row.created_at,
    archivedAt: row.archived_at,
  };
}
