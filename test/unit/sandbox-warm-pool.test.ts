import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/dev-config.ts';
import { sandboxConcurrentStartsFromEnv, sandboxWarmPoolFromEnv } from '../../src/config/sandbox-config.ts';
import { defaultConcurrentStarts, StartPacer } from '../../sandbox/start-pacer.ts';

/** A start that runs until the test lets it finish. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

test('the pacer runs at most `concurrency` starts at once, and sessions waiting go before refills', async () => {
  const pacer = new StartPacer({ concurrency: 2 });
  const order: string[] = [];
  const gates = new Map<string, ReturnType<typeof gate>>();
  const start = (name: string, priority: 'session' | 'refill') => {
    const g = gate();
    gates.set(name, g);
    return pacer.run(priority, async () => {
      order.push(name);
      await g.promise;
      return name;
    });
  };
  const runs = [start('a', 'session'), start('b', 'refill'), start('refill', 'refill'), start('c', 'session'), start('d', 'session')];
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['a', 'b'], 'two at once');
  assert.equal(pacer.waiting, 3);
  gates.get('b')!.open();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['a', 'b', 'c'], 'a session that waits goes before a refill that waited longer');
  gates.get('a')!.open();
  gates.get('c')!.open();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['a', 'b', 'c', 'd', 'refill']);
  for (const g of gates.values()) g.open();
  assert.deepEqual(await Promise.all(runs), ['a', 'b', 'refill', 'c', 'd']);
  assert.equal(pacer.waiting, 0);
});

test('a start that fails gives its turn on', async () => {
  const pacer = new StartPacer({ concurrency: 1 });
  await assert.rejects(pacer.run('session', async () => Promise.reject(new Error('no image'))), /no image/);
  assert.equal(await pacer.run('refill', async () => 'next'), 'next');
  assert.throws(() => new StartPacer({ concurrency: 0 }), RangeError);
});

test('LONGHAUL_SANDBOX_WARM_POOL sets the pool size; unset, each command keeps its own default; bad values are a ConfigError naming it', () => {
  assert.deepEqual(sandboxWarmPoolFromEnv({}, { fallback: 2 }), { warmPoolSize: 2 });
  assert.deepEqual(sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: ' 0 ' }, { fallback: 2 }), { warmPoolSize: 0 });
  assert.deepEqual(sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: '4' }, { fallback: 0 }), { warmPoolSize: 4 });
  for (const bad of ['-1', 'two', '1.5', '65']) {
    assert.throws(() => sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: bad }, { fallback: 0 }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_SANDBOX_WARM_POOL/.test(error.message), bad);
  }
});

test('container starts at once: four per core, at most 16, by default; LONGHAUL_SANDBOX_CONCURRENT_STARTS sets it, bad values are a ConfigError naming it', () => {
  assert.deepEqual([1, 2, 3, 8, 64].map((cores) => defaultConcurrentStarts(cores)), [4, 8, 12, 16, 16]);
  assert.deepEqual(sandboxConcurrentStartsFromEnv({}), {});
  assert.deepEqual(sandboxConcurrentStartsFromEnv({ LONGHAUL_SANDBOX_CONCURRENT_STARTS: ' 3 ' }), { concurrentStarts: 3 });
  for (const bad of ['0', '-1', 'six', '2.5', '65']) {
    assert.throws(() => sandboxConcurrentStartsFromEnv({ LONGHAUL_SANDBOX_CONCURRENT_STARTS: bad }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_SANDBOX_CONCURRENT_STARTS/.test(error.message), bad);
  }
});
