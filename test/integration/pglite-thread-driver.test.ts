import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError } from '../../src/config/dev-config.ts';
import { openPgliteDriver, pglitePlacementFromEnv, type PglitePlacement } from '../../src/store/pglite-driver.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';

// The store suites run on the thread driver through test/support/store-backends.ts and
// test/integration/session-store.test.ts; these check what they do not: that the main
// thread is free while PGlite works, and that the thread behaves exactly as in-process.

const placements: readonly PglitePlacement[] = ['in-process', 'thread'];
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function withDriver<T>(placement: PglitePlacement, fn: (driver: SqlDriver) => Promise<T>): Promise<T> {
  const driver = await openPgliteDriver({ placement });
  try {
    return await fn(driver);
  } finally {
    await driver.close();
  }
}

test('the main thread keeps turning while a long statement runs on the PGlite thread', async () => {
  await withDriver('thread', async (driver) => {
    let turns = 0;
    let done = false;
    const ticking = (async () => {
      while (!done) {
        await turn();
        turns += 1;
      }
    })();
    // Seconds of work for PGlite; in-process it would hold the event loop throughout.
    const [row] = await driver.query<{ n: number }>('SELECT count(*)::int AS n FROM generate_series(1, 3000000)');
    const turnsDuringQuery = turns;
    done = true;
    await ticking;
    assert.equal(row?.n, 3_000_000);
    assert.ok(turnsDuringQuery > 0, 'setImmediate callbacks ran between the statement being sent and its result');
  });
});

test('values come back as the in-process driver returns them', async () => {
  const sql = `SELECT 1::int2 AS small, 2147483647::int4 AS int, 42::int8 AS int8_small, 9007199254740993::int8 AS int8_big,
    12.50::numeric AS num, 1.5::float8 AS float, true AS yes, 'text'::text AS txt, NULL::text AS nothing,
    '{"a":[1,{"b":null}],"c":"d"}'::jsonb AS jsonb, '[1,"x"]'::json AS json, '2026-12-04T10:00:00.123Z'::timestamptz AS at,
    '2026-12-04'::date AS day, '\\x00ff10'::bytea AS bytes, $1::bytea AS bytes_param, ARRAY['a','b'] AS texts, ARRAY[1,2] AS ints,
    '00000000-0000-0000-0000-000000000001'::uuid AS uuid, $2::jsonb AS json_param, $3::timestamptz AS date_param`;
  const params = [Buffer.from([1, 2, 3]), { nested: { list: [1, 2] } }, new Date('2026-01-02T03:04:05.678Z')];
  const [inProcess, thread] = await Promise.all(placements.map((placement) => withDriver(placement, (driver) => driver.query(sql, params))));
  assert.deepStrictEqual(thread, inProcess);
  assert.equal(typeof thread?.[0]?.['int8_big'], 'bigint');
  assert.ok(thread?.[0]?.['bytes'] instanceof Uint8Array);
  assert.ok(thread?.[0]?.['at'] instanceof Date);
});

test('errors carry the PostgreSQL fields the in-process driver gives them', async () => {
  const errorOf = (placement: PglitePlacement) =>
    withDriver(placement, async (driver) => {
      await driver.exec('CREATE TABLE t (id int PRIMARY KEY)');
      await driver.query('INSERT INTO t VALUES (1)');
      const error = await driver.query('INSERT INTO t VALUES ($1)', [1]).then(
        () => assert.fail('a duplicate key must fail'),
        (e: unknown) => e as Error,
      );
      // Everything a caller can read but the stack, which is PGlite's inside either way.
      return { message: error.message, name: error.name, fields: Object.fromEntries(Object.entries(error)) };
    });
  const [inProcess, thread] = await Promise.all(placements.map(errorOf));
  assert.equal(thread?.message, 'duplicate key value violates unique constraint "t_pkey"');
  assert.equal(thread?.fields['code'], '23505');
  assert.equal(thread?.fields['constraint'], 't_pkey');
  assert.deepStrictEqual(thread, inProcess);
});

for (const placement of placements) {
  describe(placement, () => {
    test('a statement outside an open transaction waits for it to commit', async () => {
      await withDriver(placement, async (driver) => {
        await driver.exec('CREATE TABLE t (id int PRIMARY KEY)');
        const order: string[] = [];
        let outside: Promise<unknown> | undefined;
        await driver.transaction(async (tx) => {
          await tx.query('INSERT INTO t VALUES (1)');
          outside = driver.query<{ n: number }>('SELECT count(*)::int AS n FROM t').then(([row]) => order.push(`outside saw ${row?.n}`));
          for (let i = 0; i < 20; i++) await turn();
          await tx.query('INSERT INTO t VALUES (2)');
          order.push('transaction done');
        });
        await outside;
        assert.deepEqual(order, ['transaction done', 'outside saw 2']);
      });
    });

    test('a throw rolls back; a statement error aborts the transaction, whose COMMIT then fails with 25P02', async () => {
      await withDriver(placement, async (driver) => {
        await driver.exec('CREATE TABLE t (id int PRIMARY KEY)');
        await assert.rejects(
          driver.transaction(async (tx) => {
            await tx.query('INSERT INTO t VALUES (1)');
            throw new Error('changed my mind');
          }),
          { message: 'changed my mind' },
        );
        await assert.rejects(
          driver.transaction(async (tx) => {
            await tx.query('INSERT INTO t VALUES (2)');
            await tx.query('INSERT INTO t VALUES (2)').catch(() => {});
          }),
          { code: '25P02' },
        );
        assert.deepEqual(await driver.query('SELECT id FROM t'), []);
        let kept: Parameters<Parameters<SqlDriver['transaction']>[0]>[0] | undefined;
        await driver.transaction(async (tx) => {
          kept = tx;
          await tx.query('INSERT INTO t VALUES (3)');
        });
        await assert.rejects(kept!.query('SELECT 1'), { message: 'Transaction is closed' });
        assert.deepEqual(await driver.query('SELECT id FROM t'), [{ id: 3 }]);
      });
    });

    test('notifications arrive once the transaction that sent them commits, until unlisten', async () => {
      await withDriver(placement, async (driver) => {
        const got: string[] = [];
        let arrived: () => void = () => {};
        const unlisten = await driver.listen('ch', (payload) => {
          got.push(payload);
          arrived();
        });
        const next = () => new Promise<void>((resolve) => (arrived = resolve));
        let delivered = next();
        await driver.transaction(async (tx) => {
          await tx.query("SELECT pg_notify('ch', 'from a transaction')");
          for (let i = 0; i < 5; i++) await turn();
          assert.deepEqual(got, [], 'nothing before COMMIT');
        });
        await delivered;
        delivered = next();
        await driver.notify('ch', 'direct');
        await delivered;
        await unlisten();
        await driver.notify('ch', 'after unlisten');
        await driver.query('SELECT 1');
        for (let i = 0; i < 5; i++) await turn();
        assert.deepEqual(got, ['from a transaction', 'direct']);
      });
    });
  });
}

test('close ends the thread; calls after it reject; closing twice is harmless', async () => {
  const driver = await openPgliteDriver({ placement: 'thread' });
  await driver.query('SELECT 1');
  await driver.close();
  await driver.close();
  await assert.rejects(driver.query('SELECT 1'), /closed/);
});

test('a data directory written through the thread opens in-process with its data', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'longhaul-pglite-thread-'));
  try {
    const thread = await openPgliteDriver({ dataDir: dir, placement: 'thread' });
    await thread.exec('CREATE TABLE t (id int PRIMARY KEY)');
    await thread.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (7)');
    });
    await thread.close();
    await withDriverAt(dir, async (driver) => assert.deepEqual(await driver.query('SELECT id FROM t'), [{ id: 7 }]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

async function withDriverAt(dataDir: string, fn: (driver: SqlDriver) => Promise<void>): Promise<void> {
  const driver = await openPgliteDriver({ dataDir });
  try {
    await fn(driver);
  } finally {
    await driver.close();
  }
}

test('an idle thread driver does not keep the process alive, as an in-process database does not', async () => {
  const driverModule = fileURLToPath(new URL('../../src/store/pglite-driver.ts', import.meta.url));
  const script = `const { openPgliteDriver } = await import(${JSON.stringify(driverModule)});
    const driver = await openPgliteDriver({ placement: 'thread' });
    console.log(JSON.stringify(await driver.query('SELECT 1 AS one')));`;
  // Node options a worker may not be given but inherits (`longhaul dev` relaunches itself with a
  // V8 one), and `--input-type`, which a worker given a file refuses: the thread starts anyway.
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=16', '--input-type=module', '-e', script], { timeout: 120_000 });
  assert.equal(stdout.trim(), '[{"one":1}]');
});

test('LONGHAUL_PGLITE chooses where longhaul dev runs PGlite: in-process unless it says thread', () => {
  assert.equal(pglitePlacementFromEnv({}), 'in-process');
  assert.equal(pglitePlacementFromEnv({ LONGHAUL_PGLITE: ' ' }), 'in-process');
  assert.equal(pglitePlacementFromEnv({ LONGHAUL_PGLITE: 'in-process' }), 'in-process');
  assert.equal(pglitePlacementFromEnv({ LONGHAUL_PGLITE: 'thread' }), 'thread');
  assert.throws(() => pglitePlacementFromEnv({ LONGHAUL_PGLITE: 'worker' }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_PGLITE must be one of in-process, thread/.test(error.message));
});

test('a data folder is created on first open (initdb in a child process) and found with its rows on the next; every PGlite runs with 8 MB shared buffers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'longhaul-pglite-create-'));
  try {
    for (const placement of placements) {
      const dataDir = join(dir, placement);
      // Twice: the first open creates the folder, the second finds it and keeps its rows.
      for (const round of [1, 2]) {
        await withDataDir(dataDir, placement, async (driver) => {
          if (round === 1) await driver.exec('CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');
          assert.deepEqual(await driver.query('SELECT n FROM kept'), [{ n: 7 }]);
          assert.deepEqual(await driver.query('SHOW shared_buffers'), [{ shared_buffers: '8MB' }]);
        });
      }
    }
    await withDriver('in-process', async (driver) => assert.deepEqual(await driver.query('SHOW shared_buffers'), [{ shared_buffers: '8MB' }]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

async function withDataDir(dataDir: string, placement: PglitePlacement, fn: (driver: SqlDriver) => Promise<void>): Promise<void> {
  const driver = await openPgliteDriver({ dataDir, placement });
  try {
    await fn(driver);
  } finally {
    await driver.close();
  }
}
