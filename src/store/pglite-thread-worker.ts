/**
 * The thread `openPgliteThreadDriver` starts: it owns the PGlite database and serves
 * the main thread's requests (`pglite-thread-messages.ts`). PGlite's own locks still
 * decide the order: a statement outside a transaction waits for the open one, as it
 * does in-process.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { createPglite } from './pglite-create.ts';
import { PgliteStatements } from './pglite-statements.ts';
import { OPENED_REPLY_ID, serializeError, type ThreadReply, type ThreadRequest } from './pglite-thread-messages.ts';

/** What the main thread passes at start (`workerData`). */
export type PgliteThreadData = { dataDir: string | undefined };

/**
 * A transaction the main thread asked for: `opened` once BEGIN ran (statements sent for it
 * before then wait for it), `end` commits or rolls back, `settled` once that is done.
 */
type OpenTransaction = { opened: Promise<Transaction>; end: (commit: boolean) => void; settled: Promise<void> };

/** Rejects the callback of PGlite's `transaction` so that it rolls back; never reaches the caller. */
const ROLLBACK = Symbol('rollback');

if (parentPort === null) throw new Error('pglite-thread-worker.ts runs as a worker thread; open it with openPgliteThreadDriver');
await serve(parentPort, workerData as PgliteThreadData);

async function serve(port: MessagePort, { dataDir }: PgliteThreadData): Promise<void> {
  const reply = (message: ThreadReply) => port.postMessage(message);
  let db: PGlite;
  try {
    db = await createPglite(dataDir);
  } catch (error) {
    reply({ kind: 'error', id: OPENED_REPLY_ID, error: serializeError(error) });
    port.close();
    return;
  }
  const statements = new PgliteStatements(db);
  const transactions = new Map<number, OpenTransaction>();
  const unlistens = new Map<number, () => Promise<void>>();

  /** Registers the transaction at once, so that its statements find it while BEGIN still waits for PGlite's lock. */
  const begin = (txId: number): Promise<unknown> => {
    let end: (commit: boolean) => void = () => {};
    let settled: Promise<void> = Promise.resolve();
    const opened = new Promise<Transaction>((open, failed) => {
      settled = db.transaction(
        (tx) =>
          new Promise<void>((commit, rollBack) => {
            end = (yes) => (yes ? commit() : rollBack(ROLLBACK));
            open(tx);
          }),
      );
      // Before BEGIN ran this fails `opened`; after it, `end` reports the outcome.
      settled.catch(failed).finally(() => transactions.delete(txId));
    });
    transactions.set(txId, { opened, end: (commit) => end(commit), settled });
    return opened.then(() => undefined);
  };

  const end = async (txId: number, commit: boolean) => {
    const open = transactions.get(txId);
    if (open === undefined) throw new Error('Transaction is closed');
    await open.opened;
    open.end(commit);
    try {
      await open.settled;
    } catch (error) {
      if (error !== ROLLBACK) throw error;
    }
  };

  const run = async (request: ThreadRequest): Promise<unknown> => {
    switch (request.op) {
      case 'query': {
        if (request.txId === undefined) return statements.query(request.sql, request.params);
        const tx = await transactions.get(request.txId)?.opened;
        if (tx === undefined) throw new Error('Transaction is closed');
        return statements.query(request.sql, request.params, tx);
      }
      case 'exec':
        await db.exec(request.sql);
        return undefined;
      case 'begin':
        return begin(request.txId);
      case 'end':
        return end(request.txId, request.commit);
      case 'listen': {
        const { listenerId } = request;
        unlistens.set(listenerId, await db.listen(request.channel, (payload) => reply({ kind: 'notification', listenerId, payload })));
        return undefined;
      }
      case 'unlisten': {
        const unlisten = unlistens.get(request.listenerId);
        unlistens.delete(request.listenerId);
        await unlisten?.();
        return undefined;
      }
      case 'close':
        await db.close();
        return undefined;
    }
  };

  port.on('message', (request: ThreadRequest) => {
    run(request).then(
      (value) => {
        reply({ kind: 'ok', id: request.id, value });
        // Nothing else keeps the thread alive once the port is closed: it exits.
        if (request.op === 'close') port.close();
      },
      (error: unknown) => reply({ kind: 'error', id: request.id, error: serializeError(error) }),
    );
  });
  reply({ kind: 'ok', id: OPENED_REPLY_ID });
}
