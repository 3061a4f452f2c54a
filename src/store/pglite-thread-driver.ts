import { Worker } from 'node:worker_threads';
import { deserializeError, OPENED_REPLY_ID, type SerializedError, type ThreadReply, type ThreadRequest } from './pglite-thread-messages.ts';
import type { PgliteThreadData } from './pglite-thread-worker.ts';
import type { Row, SqlDriver, SqlExecutor } from './sql-driver.ts';

/** A request as the caller writes it; `PgliteThread.request` adds the id. */
type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;
type RequestBody = WithoutId<ThreadRequest>;

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/**
 * Embedded PostgreSQL (PGlite) on a worker thread of its own, behind the same
 * `SqlDriver` as `openPgliteDriver`. PGlite is single-threaded WASM whose statements
 * run synchronously inside its async calls; on the main thread they stall everything
 * else on the event loop (HTTP, SSE, the Temporal worker's activities). Here the main
 * thread only posts statements and receives rows.
 *
 * It behaves as the in-process driver does: one connection, so a statement outside an
 * open transaction waits for it; errors carry PostgreSQL's fields (`code`, `detail`,
 * `constraint`, …); values arrive as PGlite returns them (`bytea` as `Uint8Array`).
 * Like an in-process database, an idle one does not keep the process alive.
 *
 * @example
 * const driver = await openPgliteThreadDriver({ dataDir: '.longhaul/store' });
 * const [row] = await driver.query<{ n: number }>('SELECT 1 AS n');
 * await driver.close();
 */
export async function openPgliteThreadDriver({ dataDir }: { dataDir?: string | undefined } = {}): Promise<SqlDriver> {
  const thread = new PgliteThread({ dataDir });
  await thread.opened;
  const executor = (txId: number | undefined): SqlExecutor => ({
    query: async <T extends Row>(sql: string, params: readonly unknown[] = []) => (await thread.request({ op: 'query', sql, params, txId })) as T[],
  });
  return {
    ...executor(undefined),
    transaction: async (fn) => {
      const txId = thread.nextId();
      // Not awaited before `fn` runs: its statements queue in the thread behind BEGIN (which
      // waits there for PGlite's lock, as in-process), saving a round trip per transaction.
      const begun = thread.request({ op: 'begin', txId });
      begun.catch(() => {});
      let result: Awaited<ReturnType<typeof fn>>;
      try {
        result = await fn(executor(txId));
      } catch (error) {
        // A failed BEGIN is the transaction's error, as in-process where `fn` never runs then.
        await begun;
        await thread.request({ op: 'end', txId, commit: false });
        throw error;
      }
      await begun;
      await thread.request({ op: 'end', txId, commit: true });
      return result;
    },
    exec: async (sql) => {
      await thread.request({ op: 'exec', sql });
    },
    notify: async (channel, payload) => {
      await thread.request({ op: 'query', sql: 'SELECT pg_notify($1, $2)', params: [channel, payload] });
    },
    listen: async (channel, onPayload, onListening) => {
      const listenerId = thread.nextId();
      // Registered before LISTEN runs, so nothing sent after it is missed.
      thread.listeners.set(listenerId, onPayload);
      try {
        await thread.request({ op: 'listen', listenerId, channel });
      } catch (error) {
        thread.listeners.delete(listenerId);
        throw error;
      }
      // The thread's subscription never drops: it starts once.
      onListening?.();
      return async () => {
        thread.listeners.delete(listenerId);
        await thread.request({ op: 'unlisten', listenerId });
      };
    },
    close: () => thread.close(),
  };
}

const WORKER_URL = new URL('./pglite-thread-worker.ts', import.meta.url).href;

/** A failure the thread reported, until `request` turns it into the caller's Error. */
class ThreadFailure extends Error {
  readonly serialized: SerializedError;
  constructor(serialized: SerializedError) {
    super(serialized.message);
    this.serialized = serialized;
  }
}

/** The worker thread and the requests waiting for its replies. */
class PgliteThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #lastId = OPENED_REPLY_ID;
  /** Why no request can be served any more (closed, or the thread died). */
  #stopped: Error | undefined;
  #closing: Promise<void> | undefined;
  readonly #exited: Promise<void>;
  readonly listeners = new Map<number, (payload: string) => void>();
  readonly opened: Promise<void>;

  constructor({ dataDir }: { dataDir: string | undefined }) {
    const workerData: PgliteThreadData = { dataDir };
    // Loaded by a one-line script rather than given as the worker's file: the worker inherits the
    // process's Node options, and `--input-type` (`node --input-type=module -e …`) makes a worker
    // refuse a file. An explicit `execArgv` without it would not do: Node then rejects the V8
    // options a process may have (`--max-semi-space-size`), which it lets a worker inherit.
    this.#worker = new Worker(`import(${JSON.stringify(WORKER_URL)})`, { eval: true, workerData, name: 'longhaul-pglite' });
    this.opened = this.#await(OPENED_REPLY_ID).then(() => undefined);
    this.#worker.on('message', (reply: ThreadReply) => this.#receive(reply));
    this.#worker.on('error', (error) => this.#stop(new Error(`the PGlite thread failed: ${error.message}`, { cause: error })));
    this.#exited = new Promise((resolve) =>
      this.#worker.once('exit', (code) => {
        this.#stop(new Error(`the PGlite thread exited (code ${code})`));
        resolve();
      }),
    );
  }

  nextId(): number {
    this.#lastId += 1;
    return this.#lastId;
  }

  async request(body: RequestBody): Promise<unknown> {
    if (this.#stopped) throw this.#stopped;
    const id = this.nextId();
    const reply = this.#await(id);
    this.#worker.postMessage({ ...body, id } as ThreadRequest);
    try {
      return await reply;
    } catch (error) {
      // Made here rather than where the reply arrives, so its stack names the caller (async frames included).
      throw error instanceof ThreadFailure ? deserializeError(error.serialized) : error;
    }
  }

  /** Closes the database, then waits for the thread to end. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#stopped) await this.request({ op: 'close' });
      this.#stop(new Error('the PGlite database is closed'));
      // Held open until the thread has ended, so a caller that awaits close() sees it end.
      this.#worker.ref();
      await this.#exited;
    })();
    return this.#closing;
  }

  #await(id: number): Promise<unknown> {
    // Only waiting requests hold the process open, as with PGlite in-process (no handle of its own).
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
    return pending;
  }

  #receive(reply: ThreadReply): void {
    switch (reply.kind) {
      case 'ok':
        this.#settle(reply.id)?.resolve(reply.value);
        return;
      case 'error':
        this.#settle(reply.id)?.reject(new ThreadFailure(reply.error));
        return;
      case 'notification':
        this.listeners.get(reply.listenerId)?.(reply.payload);
        return;
    }
  }

  #stop(reason: Error): void {
    this.#stopped ??= reason;
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(reason);
  }
}
