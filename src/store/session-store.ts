import { z } from 'zod';
import { deterministicId } from './ids.ts';
import type { ContentStore } from './content-refs.ts';
import { migrateSchema } from './migrate-schema.ts';
import { SessionFeeds } from './session-feed.ts';
import { SessionRecords } from './session-records.ts';
import { SessionThreads } from './session-threads.ts';
import { StreamPreviews } from './stream-previews.ts';
import type { SqlDriver } from './sql-driver.ts';
import type { SessionEvent } from '../schemas/events.ts';
import type { TranscriptItem } from '../core/transcript.ts';
import { liveFromPos, startOf, type SummaryRow } from '../core/context-view.ts';
import type { Usage } from '../core/usage.ts';
import { WorkQueue, type WorkQueueOptions } from './work-queue.ts';

/** An event to append: `key` names its cause and makes the append idempotent. */
export type NewEvent = {
  key: string;
  /**
   * The event's id when it is not derived from the key: a copy of another log's event
   * (a thread's call cross-posted to the session's log) keeps the original's id, so an
   * answer to either names the same call.
   */
  id?: string | undefined;
  /** The event without `id` and `processed_at`; the store adds both. */
  event: { type: SessionEvent['type'] } & Record<string, unknown>;
};

export type StoredEvent = { seq: number; event: SessionEvent };

/** Told of every append once it has committed: the log it went to and its events. */
export type SessionStoreOptions = { work?: WorkQueueOptions | undefined };

export type AppendObserver = (logId: string, events: readonly StoredEvent[]) => Promise<void>;

export type NewTranscriptItem = { key: string; item: TranscriptItem };

/** What the model endpoint reported for one attempt of a model call. */
export type AttemptUsage = {
  callKey: string;
  attempt: number;
  /** The model request's usage, as its stream reported it so far. */
  model: Usage;
  /** The attempt's other requests, summed: permission judgements (`auto` policy) and summaries of the context. */
  judge: Usage;
  /** The attempt is over and counted: its numbers no longer change. */
  final: boolean;
};

export type ListEventsOptions = {
  /** Only events with `seq` greater than this. Default 0. */
  afterSeq?: number | undefined;
  /** Only events with `seq` less than this (for descending pages). */
  beforeSeq?: number | undefined;
  /** Default 100. */
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
  types?: readonly string[] | undefined;
  /** Bounds on `processed_at` (ISO timestamps in UTC, as stored). */
  processedAt?: { gt?: string | undefined; gte?: string | undefined; lt?: string | undefined; lte?: string | undefined } | undefined;
};

const EVENTS_CHANNEL = 'longhaul_session_events';
/**
 * `askRunningCall`'s notifications, on the events' channel: `call:` and `[request, logId,
 * callKey]` as JSON (no session id starts so). A second channel made the process of an
 * in-process PGlite grow 80 MiB over a 10,000-step session (`BENCH_ONLY=long_session`; where
 * inside PGlite was not found), for nothing one channel cannot carry.
 */
const RUNNING_CALL_PREFIX = 'call:';

/**
 * What the workflow asks of a running model call: `yield`, take no step after the one it is
 * on (`runSteps`); `interrupt`, stop now.
 */
const RunningCallRequest = z.enum(['yield', 'interrupt']);
export type RunningCallRequest = z.infer<typeof RunningCallRequest>;
/** A notification's JSON after the prefix. */
const RunningCallMessage = z.tuple([RunningCallRequest, z.string(), z.string()]);

/** Hears a request to a running model call, whichever process runs it. */
export type RunningCallListener = (request: RunningCallRequest, logId: string, callKey: string) => void;

/**
 * The session store: session records, the event log and the transcript.
 * One instance per process; it owns the driver.
 */
/** An event's id: derived from its key, so whoever knows the key knows the id before the event is stored. */
export function eventIdOfKey(sessionId: string, key: string): string {
  return deterministicId('sevt', sessionId, key);
}

export class SessionStore implements ContentStore {
  readonly #db: SqlDriver;
  readonly #feeds = new SessionFeeds({ read: (sessionId, afterSeq, limit) => this.listEvents(sessionId, { afterSeq, limit }) });
  #unlisten: (() => Promise<void>) | undefined;
  readonly #callListeners = new Set<RunningCallListener>();
  #storeId = '';
  readonly #appendObservers: AppendObserver[] = [];
  /** `event_start` / `event_delta` previews of model output, for streams that ask for them. */
  readonly previews: StreamPreviews;
  /** One record per session: what it runs and what its client named and may change. */
  readonly sessions: SessionRecords;
  /** The threads of multi-agent sessions (each thread's log is kept under its id). */
  readonly threads: SessionThreads;
  /** Work queues of self-hosted environments: where their sessions' tool calls wait for a worker. */
  readonly work: WorkQueue;

  private constructor(db: SqlDriver, options: SessionStoreOptions) {
    this.#db = db;
    this.previews = new StreamPreviews(db);
    this.sessions = new SessionRecords(db);
    this.threads = new SessionThreads(db);
    this.work = new WorkQueue(db, options.work);
  }

  /** Opens the store on `driver` and brings its schema up to date. */
  static async open(driver: SqlDriver, options: SessionStoreOptions = {}): Promise<SessionStore> {
    const store = new SessionStore(driver, options);
    await migrateSchema(driver);
    const [identity] = await driver.query<{ id: string }>('SELECT id FROM store_identity');
    if (identity === undefined) throw new Error('the store has no identity row (store_identity); was it migrated by another version?');
    store.#storeId = identity.id;
    store.#unlisten = await driver.listen(
      EVENTS_CHANNEL,
      (payload) => {
        if (payload.startsWith(RUNNING_CALL_PREFIX)) {
          const asked = parseRunningCallRequest(payload.slice(RUNNING_CALL_PREFIX.length));
          if (asked !== undefined) for (const listener of store.#callListeners) listener(...asked);
          return;
        }
        // `<session id> <last seq>`; a bare session id from an older writer means "read to find out".
        const [sessionId = '', lastSeq] = payload.split(' ');
        store.#feeds.notify(sessionId, lastSeq === undefined ? undefined : Number(lastSeq));
      },
      // Listening (again, after a lost connection): what was notified meanwhile never came, so every live reader reads.
      () => store.#feeds.notifyAll(),
    );
    return store;
  }

  /**
   * This store's identity, made once when its schema was created. Sessions carry it to
   * their workers, which refuse sessions of another store.
   */
  get storeId(): string {
    return this.#storeId;
  }

  /**
   * Asks the process that runs a model call, whichever it is, to yield or stop: every process
   * on this store hears it (`onRunningCallRequest`). A worker finds only its own calls; this
   * reaches the call on a cluster of several.
   */
  async askRunningCall(request: RunningCallRequest, logId: string, callKey: string): Promise<void> {
    await this.#db.notify(EVENTS_CHANNEL, `${RUNNING_CALL_PREFIX}${JSON.stringify([request, logId, callKey])}`);
  }

  /** Calls `listener` for every `askRunningCall`, this process's and others'; returns its removal. */
  onRunningCallRequest(listener: RunningCallListener): () => void {
    this.#callListeners.add(listener);
    return () => this.#callListeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#unlisten?.();
    await this.previews.close();
    this.#feeds.closeAll();
    await this.#db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- content kept by reference (content-refs.ts) ---------------------------

  async putContent(sessionId: string, items: readonly { id: string; content: unknown[] }[]): Promise<void> {
    for (const { id, content } of items) {
      await this.#db.query(
        'INSERT INTO session_content (session_id, id, content) VALUES ($1, $2, $3::text::jsonb) ON CONFLICT DO NOTHING',
        [sessionId, id, JSON.stringify(content)],
      );
    }
  }

  async getContent(sessionId: string, ids: readonly string[]): Promise<Map<string, unknown[]>> {
    const rows = await this.#db.query<{ id: string; content: unknown[] }>(
      'SELECT id, content FROM session_content WHERE session_id = $1 AND id = ANY($2::text[])',
      [sessionId, [...ids]],
    );
    return new Map(rows.map((row) => [row.id, row.content]));
  }

  // ---- usage of model-call attempts (activities/model/attempt-usage.ts) ------

  /**
   * Records what the endpoint reported so far for one attempt, replacing the last
   * record. Ignored once the attempt is final, so a stale worker cannot change what was
   * counted; `final` makes this the last record.
   */
  async putAttemptUsage(sessionId: string, { callKey, attempt, model, judge, final }: Omit<AttemptUsage, 'final'> & { final: boolean }): Promise<void> {
    await this.#db.query(
      `INSERT INTO model_attempt_usage (session_id, call_key, attempt, model_usage, judge_usage, final)
       VALUES ($1, $2, $3, $4::text::jsonb, $5::text::jsonb, $6)
       ON CONFLICT (session_id, call_key, attempt) DO UPDATE
         SET model_usage = EXCLUDED.model_usage, judge_usage = EXCLUDED.judge_usage, final = EXCLUDED.final, updated_at = now()
         WHERE NOT model_attempt_usage.final`,
      [sessionId, callKey, attempt, JSON.stringify(model), JSON.stringify(judge), final],
    );
  }

  /**
   * Makes attempts 1 … `beforeAttempt - 1` of a call final, as they stand (an attempt
   * that reported nothing gets a zero record), and returns them in order. A retry does
   * this first: those attempts are over, and a worker that still runs one writes no more.
   */
  async finalizeAttemptUsage(sessionId: string, callKey: string, { beforeAttempt }: { beforeAttempt: number }): Promise<AttemptUsage[]> {
    if (beforeAttempt <= 1) return [];
    const zero = JSON.stringify({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    const rows = await this.#db.query<AttemptUsageRow>(
      `INSERT INTO model_attempt_usage (session_id, call_key, attempt, model_usage, judge_usage, final)
       SELECT $1, $2, attempt, $4::text::jsonb, $4::text::jsonb, true FROM generate_series(1, $3::integer - 1) AS attempt
       ON CONFLICT (session_id, call_key, attempt) DO UPDATE SET final = true
       RETURNING call_key, attempt, model_usage, judge_usage, final`,
      [sessionId, callKey, beforeAttempt, zero],
    );
    return rows.map(attemptUsageOf).sort((a, b) => a.attempt - b.attempt);
  }

  /** The recorded attempts of one call, or with no `callKey` of every call of the session, in order. */
  async listAttemptUsage(sessionId: string, { callKey, callKeyPrefix }: { callKey?: string | undefined; callKeyPrefix?: string | undefined } = {}): Promise<AttemptUsage[]> {
    const rows = await this.#db.query<AttemptUsageRow>(
      `SELECT call_key, attempt, model_usage, judge_usage, final FROM model_attempt_usage
       WHERE session_id = $1 AND ($2::text IS NULL OR call_key = $2) AND ($3::text IS NULL OR starts_with(call_key, $3)) ORDER BY call_key, attempt`,
      [sessionId, callKey ?? null, callKeyPrefix ?? null],
    );
    return rows.map(attemptUsageOf);
  }

  // ---- sessions -------------------------------------------------------------

  /** Deletes every row of the session this store keeps: events, transcript, content, usage records, its threads' logs, its record. Idempotent. */
  async deleteSession(sessionId: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const threads = await tx.query<{ id: string }>('SELECT id FROM session_threads WHERE session_id = $1', [sessionId]);
      const logs = [sessionId, ...threads.map((t) => t.id)];
      for (const table of ['session_events', 'session_transcript', 'session_content', 'model_attempt_usage', 'session_event_seq']) {
        await tx.query(`DELETE FROM ${table} WHERE session_id = ANY($1::text[])`, [logs]);
      }
      await tx.query('DELETE FROM session_threads WHERE session_id = $1', [sessionId]);
      await tx.query('DELETE FROM session_spend WHERE session_id = $1 OR log_id = $1', [sessionId]);
      await tx.query('DELETE FROM sessions WHERE id = $1', [sessionId]);
    });
  }

  // ---- events ---------------------------------------------------------------

  /**
   * Calls `observer` after each append commits, with the events it wrote or found already
   * written (a retried append sees its events again). Awaited, so what the observer
   * does (outbound webhooks) happens before the appending activity completes: a crash
   * in between retries both.
   */
  observeAppends(observer: AppendObserver): void {
    this.#appendObservers.push(observer);
  }

  /**
   * Appends events (and transcript items) in one transaction. Events whose key
   * is already stored are skipped, so a retried writer never duplicates one; the
   * rest get the next gapless sequence numbers. Returns the stored form of every
   * requested event, old or new, in request order. `finalUsage` is an attempt's final
   * usage record (`putAttemptUsage`), written in the same transaction: a model answer and
   * what it was billed.
   */
  async append(
    sessionId: string,
    events: readonly NewEvent[],
    transcript: readonly NewTranscriptItem[] = [],
    { finalUsage }: { finalUsage?: Omit<AttemptUsage, 'final'> | undefined } = {},
  ): Promise<StoredEvent[]> {
    if (events.length === 0 && transcript.length === 0 && finalUsage === undefined) return [];
    const processedAt = new Date().toISOString();
    const prepared = events.map(({ key, event, id }) => {
      const full = { id: id ?? eventIdOfKey(sessionId, key), ...event, processed_at: processedAt } as unknown as SessionEvent;
      return { key, full, json: JSON.stringify(full) };
    });
    this.#feeds.beginAppend(sessionId);
    const committed: StoredEvent[] = [];
    let stored: StoredEvent[];
    try {
      // One statement (migration 18): every statement is a trip through the database, and PGlite makes them on our event loop.
      const rows = await this.#db.query<{ out_key: string; out_seq: number; out_event: SessionEvent | null }>(
        'SELECT out_key, out_seq, out_event FROM longhaul_append_events($1, $2, $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9, $10)',
        [
          sessionId,
          processedAt,
          prepared.map((p) => p.key),
          prepared.map((p) => p.full.id),
          prepared.map((p) => p.full.type),
          prepared.map((p) => p.json),
          transcript.map((t) => t.key),
          transcript.map((t) => JSON.stringify(t.item)),
          EVENTS_CHANNEL,
          // Written as `putAttemptUsage(…, final)` would, in the same statement (migration 23).
          finalUsage === undefined ? null : JSON.stringify({ call_key: finalUsage.callKey, attempt: finalUsage.attempt, model: finalUsage.model, judge: finalUsage.judge }),
        ],
      );
      const byKey = new Map<string, StoredEvent>();
      // A key given twice in one append is stored once, as first given.
      const fresh = new Map<string, (typeof prepared)[number]>();
      for (const p of prepared) if (!fresh.has(p.key)) fresh.set(p.key, p);
      for (const row of rows) {
        const seq = Number(row.out_seq);
        if (row.out_event !== null) {
          byKey.set(row.out_key, { seq, event: row.out_event });
          continue;
        }
        const made = fresh.get(row.out_key)!;
        byKey.set(row.out_key, { seq, event: made.full });
        // What a reader would read back (plain JSON, nothing undefined), made only when this process has one.
        if (this.#feeds.follows(sessionId)) committed.push({ seq, event: JSON.parse(made.json) as SessionEvent });
      }
      committed.sort((a, b) => a.seq - b.seq);
      stored = prepared.map((p) => byKey.get(p.key)!);
    } finally {
      // This process's live readers get the new events without reading them back.
      this.#feeds.endAppend(sessionId, committed);
    }
    for (const observer of this.#appendObservers) if (stored.length > 0) await observer(sessionId, stored);
    return stored;
  }

  /** Whether an event with this key exists (an activity's "did I already do this?"). */
  async findEventByKey(sessionId: string, key: string): Promise<StoredEvent | undefined> {
    const rows = await this.#db.query<{ seq: number; event: SessionEvent }>('SELECT seq, event FROM session_events WHERE session_id = $1 AND key = $2', [sessionId, key]);
    const row = rows[0];
    return row && { seq: Number(row.seq), event: row.event };
  }

  async listEvents(sessionId: string, { afterSeq = 0, beforeSeq, limit = 100, order = 'asc', types, processedAt = {} }: ListEventsOptions = {}): Promise<StoredEvent[]> {
    const params: unknown[] = [sessionId, afterSeq];
    let where = 'session_id = $1 AND seq > $2';
    if (beforeSeq !== undefined) {
      params.push(beforeSeq);
      where += ` AND seq < $${params.length}`;
    }
    if (types && types.length > 0) {
      params.push(types);
      where += ` AND type = ANY($${params.length}::text[])`;
    }
    for (const [bound, op] of [['gt', '>'], ['gte', '>='], ['lt', '<'], ['lte', '<=']] as const) {
      const value = processedAt[bound];
      if (value === undefined) continue;
      params.push(value);
      where += ` AND processed_at ${op} $${params.length}`;
    }
    params.push(limit);
    const rows = await this.#db.query<{ seq: number; event: SessionEvent }>(
      `SELECT seq, event FROM session_events WHERE ${where} ORDER BY seq ${order === 'asc' ? 'ASC' : 'DESC'} LIMIT $${params.length}`,
      params,
    );
    return rows.map((row) => ({ seq: Number(row.seq), event: row.event }));
  }

  async findEventById(sessionId: string, eventId: string): Promise<StoredEvent | undefined> {
    const rows = await this.#db.query<{ seq: number; event: SessionEvent }>('SELECT seq, event FROM session_events WHERE session_id = $1 AND id = $2', [sessionId, eventId]);
    const row = rows[0];
    return row && { seq: Number(row.seq), event: row.event };
  }

  async lastSeq(sessionId: string): Promise<number> {
    const rows = await this.#db.query<{ last_seq: number }>('SELECT last_seq FROM session_event_seq WHERE session_id = $1', [sessionId]);
    return Number(rows[0]?.last_seq ?? 0);
  }

  async seqOfEventId(sessionId: string, eventId: string): Promise<number | undefined> {
    const rows = await this.#db.query<{ seq: number }>('SELECT seq FROM session_events WHERE session_id = $1 AND id = $2', [sessionId, eventId]);
    return rows[0] === undefined ? undefined : Number(rows[0].seq);
  }

  /**
   * Every event after `afterSeq`, then live ones as they are appended, until
   * `signal` aborts. A reader replays the log by itself, then joins the
   * session's shared feed (one read per append for all readers); it drops
   * repeats and fills gaps with its own read. A lost connection's notifications are
   * read for every feed when the store listens again; as a last safety net a reader
   * also reads when it heard nothing for `pollMs`, a wait that doubles while nothing
   * comes, up to `maxPollMs` (a thousand idle streams polling every second were a
   * thousand queries a second), and starts again at `pollMs` once something does.
   */
  async *tail(sessionId: string, { afterSeq = 0, signal, pollMs = 1000, maxPollMs = 30_000 }: { afterSeq?: number; signal?: AbortSignal; pollMs?: number; maxPollMs?: number } = {}): AsyncGenerator<StoredEvent> {
    let cursor = afterSeq;
    // Replay on our own until caught up.
    for (;;) {
      if (signal?.aborted) return;
      const batch = await this.listEvents(sessionId, { afterSeq: cursor, limit: 500 });
      for (const entry of batch) {
        cursor = entry.seq;
        yield entry;
      }
      if (batch.length < 500) break;
    }

    let queue: StoredEvent[] = [];
    let wake: () => void = () => {};
    let closed = false;
    const unsubscribe = this.#feeds.subscribe(sessionId, cursor, {
      push: (batch) => {
        queue.push(...batch);
        wake();
      },
      close: () => {
        closed = true;
        wake();
      },
    });
    const onAbort = () => wake();
    signal?.addEventListener('abort', onAbort);
    try {
      // Anything appended between the replay and joining the feed.
      queue.push(...(await this.listEvents(sessionId, { afterSeq: cursor, limit: 500 })));
      let waitMs = pollMs;
      while (!signal?.aborted && !closed) {
        if (queue.length === 0) {
          const pushed = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), waitMs);
            wake = () => {
              clearTimeout(timer);
              resolve(true);
            };
          });
          wake = () => {};
          if (!pushed && !signal?.aborted && !closed) {
            const found = await this.listEvents(sessionId, { afterSeq: cursor, limit: 500 });
            queue.push(...found);
            waitMs = found.length > 0 ? pollMs : Math.min(maxPollMs, waitMs * 2);
          } else {
            waitMs = pollMs;
          }
          continue;
        }
        const pending = queue;
        queue = [];
        for (const entry of pending) {
          if (entry.seq <= cursor) continue;
          if (entry.seq > cursor + 1) {
            // The feed skipped ahead of us (we joined late or missed a push): read the gap ourselves.
            for (const missed of await this.listEvents(sessionId, { afterSeq: cursor, beforeSeq: entry.seq, limit: entry.seq - cursor - 1 })) {
              cursor = missed.seq;
              yield missed;
            }
          }
          cursor = entry.seq;
          yield entry;
        }
      }
    } finally {
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  // ---- transcript -------------------------------------------------------------

  async appendTranscript(sessionId: string, items: readonly NewTranscriptItem[]): Promise<void> {
    await this.append(sessionId, [], items);
  }

  /** Transcript items in order; with `afterPos`, only those appended after that position. */
  async readTranscript(sessionId: string, { afterPos = 0 }: { afterPos?: number } = {}): Promise<{ pos: number; key: string; item: TranscriptItem }[]> {
    const rows = await this.#db.query<{ pos: number; key: string; item: TranscriptItem }>(
      'SELECT pos, key, item FROM session_transcript WHERE session_id = $1 AND pos > $2 ORDER BY pos',
      [sessionId, afterPos],
    );
    return rows.map((row) => ({ ...row, pos: Number(row.pos) }));
  }

  /**
   * The position after which `readTranscript` finds every item the model still sees
   * (`liveRows`): a reader that has not seen the session skips what compaction replaced
   * instead of loading the whole history. Summaries are keyed `summary:…` and answers
   * `assistant:…` (callModel), so the lookups leave tool outputs unread.
   */
  async transcriptLiveFrom(sessionId: string): Promise<number> {
    const [summary] = await this.#db.query<{ pos: number; item: SummaryRow['item'] }>(
      `SELECT pos, item FROM session_transcript WHERE session_id = $1 AND starts_with(key, 'summary:') AND item->>'kind' = 'summary'
       ORDER BY (item->>'through')::bigint DESC LIMIT 1`,
      [sessionId],
    );
    const [compaction] = await this.#db.query<{ pos: number | null }>(
      `SELECT MAX(pos) AS pos FROM session_transcript
       WHERE session_id = $1 AND starts_with(key, 'assistant:') AND item->'content' @> '[{"type": "compaction"}]'::jsonb`,
      [sessionId],
    );
    return liveFromPos(startOf({ summary: summary && { pos: Number(summary.pos), item: summary.item }, compactionPos: Number(compaction?.pos ?? 0) }));
  }

  async getTranscriptItem(sessionId: string, key: string): Promise<TranscriptItem | undefined> {
    const rows = await this.#db.query<{ item: TranscriptItem }>('SELECT item FROM session_transcript WHERE session_id = $1 AND key = $2', [sessionId, key]);
    return rows[0]?.item;
  }
}

type AttemptUsageRow = { call_key: string; attempt: number; model_usage: Usage; judge_usage: Usage; final: boolean };

function attemptUsageOf(row: AttemptUsageRow): AttemptUsage {
  return { callKey: row.call_key, attempt: Number(row.attempt), model: row.model_usage, judge: row.judge_usage, final: row.final };
}

/** `[request, logId, callKey]` from a running-call notification; nothing from one that is not that. */
function parseRunningCallRequest(payload: string): [RunningCallRequest, string, string] | undefined {
  try {
    return RunningCallMessage.safeParse(JSON.parse(payload)).data;
  } catch {
    // Not JSON, so not ours: ignored.
    return undefined;
  }
}
