import { AsyncLocalStorage } from 'node:async_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { exposedGc } from '../../src/cli/idle-garbage-collection.ts';

/**
 * Runs `call` with a fresh store in an AsyncLocalStorage, as a Temporal activity runs its
 * code in its context, and answers after a full collection whether anything still holds
 * that store: what `call` left open (a socket, a server, a timer) keeps the context it was
 * made in for as long as it lives.
 */
export async function contextOutlives(call: () => Promise<unknown>): Promise<boolean> {
  const storage = new AsyncLocalStorage<object>();
  const store = await (async () => {
    const value = { context: 'of the call' };
    await storage.run(value, call);
    return new WeakRef(value);
  })();
  await nextTurn();
  exposedGc()();
  return store.deref() !== undefined;
}
