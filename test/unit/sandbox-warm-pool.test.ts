import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/dev-config.ts';
import { sandboxConcurrentStartsFromEnv, sandboxWarmPoolFromEnv } from '../../src/config/sandbox-config.ts';
import { BurstDemand } from '../../sandbox/burst-demand.ts';
import { spareCpuGauge } from '../../sandbox/spare-cpu.ts';
import { defaultConcurrentStarts, StartPacer, StartsStopped } from '../../sandbox/start-pacer.ts';

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

test('a stopped pacer refuses the starts waiting for a turn and every later one; the one running finishes', async () => {
  const pacer = new StartPacer({ concurrency: 1 });
  const running = gate();
  const ran: string[] = [];
  const first = pacer.run('session', async () => {
    await running.promise;
    ran.push('first');
  });
  const waiting = [pacer.run('session', async () => ran.push('second')), pacer.run('refill', async () => ran.push('refill'))];
  pacer.stop('stopping');
  for (const start of waiting) await assert.rejects(start, (error: unknown) => error instanceof StartsStopped && error.message === 'stopping');
  await assert.rejects(pacer.run('session', async () => ran.push('later')), StartsStopped);
  running.open();
  await first;
  assert.deepEqual(ran, ['first']);
});

test('LONGHAUL_SANDBOX_WARM_POOL sets the pool size; unset, each command keeps its own default; bad values are a ConfigError naming it', () => {
  assert.deepEqual(sandboxWarmPoolFromEnv({}, { fallback: 2 }), { warmPoolSize: 2, warmPoolMax: 2 });
  assert.deepEqual(sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: ' 0 ' }, { fallback: 2 }), { warmPoolSize: 0, warmPoolMax: 0 });
  assert.deepEqual(sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: '4' }, { fallback: 0 }), { warmPoolSize: 4, warmPoolMax: 4 });
  for (const bad of ['-1', 'two', '1.5', '65']) {
    assert.throws(() => sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: bad }, { fallback: 0 }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_SANDBOX_WARM_POOL/.test(error.message), bad);
  }
});

test('LONGHAUL_SANDBOX_WARM_POOL_MAX lets the pool grow; a command may default it; a pool of 0 stays off; below the pool it is a ConfigError', () => {
  // dev's defaults: two, growing to 64.
  assert.deepEqual(sandboxWarmPoolFromEnv({}, { fallback: 2, maxFallback: 64 }), { warmPoolSize: 2, warmPoolMax: 64 });
  assert.deepEqual(sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: '0' }, { fallback: 2, maxFallback: 64 }), { warmPoolSize: 0, warmPoolMax: 0 }, 'turned off, it does not grow either');
  assert.deepEqual(sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: '8' }, { fallback: 2, maxFallback: 4 }), { warmPoolSize: 8, warmPoolMax: 8 }, 'the default maximum is never below the pool');
  assert.deepEqual(sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL_MAX: '16' }, { fallback: 2, maxFallback: 64 }), { warmPoolSize: 2, warmPoolMax: 16 });
  assert.deepEqual(sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: '0', LONGHAUL_SANDBOX_WARM_POOL_MAX: '10' }, { fallback: 0 }), { warmPoolSize: 0, warmPoolMax: 10 }, 'none idle, grown by bursts');
  assert.throws(() => sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: '4', LONGHAUL_SANDBOX_WARM_POOL_MAX: '3' }, { fallback: 0 }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_SANDBOX_WARM_POOL_MAX \(3\) must be at least LONGHAUL_SANDBOX_WARM_POOL \(4\)/.test(error.message));
  for (const bad of ['-1', 'many', '65']) {
    assert.throws(() => sandboxWarmPoolFromEnv({ LONGHAUL_SANDBOX_WARM_POOL_MAX: bad }, { fallback: 0 }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_SANDBOX_WARM_POOL_MAX/.test(error.message), bad);
  }
});

test('burst demand: the most asks within one window, over the hold; older asks are forgotten', () => {
  const demand = new BurstDemand({ windowMs: 10_000, holdMs: 600_000 });
  assert.equal(demand.peak(0), 0);
  // A burst of five within a second, then a trickle of one every 20 s.
  for (let i = 0; i < 5; i += 1) demand.ask(1_000 + i * 200);
  for (let at = 30_000; at <= 200_000; at += 20_000) demand.ask(at);
  assert.equal(demand.peak(200_000), 5, 'the burst, not the trickle');
  // Two within 10 s of each other count together; 10.001 s apart they do not.
  demand.ask(195_000);
  assert.equal(demand.peak(195_000), 5);
  assert.equal(demand.peak(601_000), 5, 'the burst is held for ten minutes after its last ask');
  assert.equal(demand.peak(601_801), 2, 'then forgotten: the trickle and the pair at 190 s and 195 s is its peak');
  assert.equal(demand.peak(805_001), 0, 'every ask older than the hold');
  demand.ask(900_000);
  demand.ask(910_001);
  assert.equal(demand.peak(910_001), 1, 'asks just over a window apart');
});

test('container starts at once: four per core, at most 16, by default; LONGHAUL_SANDBOX_CONCURRENT_STARTS sets it, bad values are a ConfigError naming it', () => {
  assert.deepEqual([1, 2, 3, 8, 64].map((cores) => defaultConcurrentStarts(cores)), [4, 8, 12, 16, 16]);
  assert.deepEqual(sandboxConcurrentStartsFromEnv({}), {});
  assert.deepEqual(sandboxConcurrentStartsFromEnv({ LONGHAUL_SANDBOX_CONCURRENT_STARTS: ' 3 ' }), { concurrentStarts: 3 });
  for (const bad of ['0', '-1', 'six', '2.5', '65']) {
    assert.throws(() => sandboxConcurrentStartsFromEnv({ LONGHAUL_SANDBOX_CONCURRENT_STARTS: bad }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_SANDBOX_CONCURRENT_STARTS/.test(error.message), bad);
  }
});

test("the spare-CPU gauge answers from the machine's idle time since the last question, at most every sampleMs", async () => {
  // No machine is more than all idle, and every machine is at least not idle at all.
  const never = spareCpuGauge({ idleAtLeast: 1.01, sampleMs: 50 });
  const always = spareCpuGauge({ idleAtLeast: 0, sampleMs: 50 });
  assert.equal(await never(), false);
  assert.equal(await always(), true);
  const started = performance.now();
  await always();
  await always();
  assert.ok(performance.now() - started >= 95, 'two more questions waited out a sample each');
});
