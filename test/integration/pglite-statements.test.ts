import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { PgliteStatements } from '../../src/store/pglite-statements.ts';

// Both drivers run the store's suites through PgliteStatements (test/support/store-backends.ts);
// these check what the suites would not notice: that it answers exactly as PGlite's own
// query, that a statement is prepared once, and what happens when one goes stale or is evicted.

async function withDatabase<T>(fn: (db: PGlite) => Promise<T>): Promise<T> {
  const db = await PGlite.create();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const preparedCount = async (statements: PgliteStatements) => (await statements.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements'))[0]?.n;

test('rows, types and empty results come back as PGlite’s own query returns them', async () => {
  await withDatabase(async (db) => {
    const statements = new PgliteStatements(db);
    // t is written through the statements, its twin u through PGlite's query: both must answer alike.
    await db.exec('CREATE TABLE t (id text PRIMARY KEY, n bigint, record jsonb, tags text[], at timestamptz, flag boolean, note text); CREATE TABLE u (LIKE t)');
    const insert = (table: string) => `INSERT INTO ${table} VALUES ($1, $2, $3::text::jsonb, $4::text[], $5, $6, $7) RETURNING id, n, at`;
    const values = [
      ['a', 9007199254740993n, JSON.stringify({ nested: { x: [1, 'two', null] } }), ['x', 'y,z', 'q"uote'], new Date('2026-01-02T03:04:05.678Z'), true, null],
      ['b', 7, '{}', [], new Date(0), false, 'ünïcödé'],
    ];
    for (const params of values) assert.deepEqual(await statements.query(insert('t'), params), (await db.query(insert('u'), params)).rows);
    const reads: [string, unknown[]][] = [
      ['SELECT * FROM % ORDER BY id', []],
      ['SELECT record->$1 AS picked, cardinality(tags) AS count, tags FROM % WHERE id = ANY($2::text[]) ORDER BY id', ['nested', ['a', 'b']]],
      ['SELECT * FROM % WHERE id = $1', ['missing']],
    ];
    for (const [sql, params] of reads) {
      const rows = await statements.query(sql.replace('%', 't'), params);
      assert.deepEqual(rows, (await db.query(sql.replace('%', 'u'), params)).rows, sql);
      assert.equal(rows.length === 0, params.includes('missing'), sql);
    }
  });
});

test('a statement is parsed once however often it runs, and other statements are parsed once each', async () => {
  await withDatabase(async (db) => {
    const statements = new PgliteStatements(db);
    for (let i = 0; i < 50; i++) assert.deepEqual(await statements.query('SELECT $1::int + 1 AS n', [i]), [{ n: i + 1 }]);
    await statements.query('SELECT 2 AS two');
    assert.equal(statements.size, 2);
    // The count's own statement is the third.
    assert.equal(await preparedCount(statements), 3);
  });
});

test('errors are PGlite’s, with PostgreSQL’s code; a failed run leaves its statement usable and a bad one is not kept', async () => {
  await withDatabase(async (db) => {
    const statements = new PgliteStatements(db);
    await db.exec('CREATE TABLE t (id text PRIMARY KEY)');
    const insert = 'INSERT INTO t VALUES ($1)';
    await statements.query(insert, ['a']);
    await assert.rejects(statements.query(insert, ['a']), (error: Error & { code?: string }) => error.code === '23505' && /duplicate key/.test(error.message));
    await statements.query(insert, ['b']);
    await assert.rejects(statements.query('SELEC 1'), (error: Error & { code?: string }) => error.code === '42601');
    await assert.rejects(statements.query('SELECT $1::int', ['not a number']), (error: Error & { code?: string }) => error.code === '22P02');
    assert.equal(statements.size, 2);
    assert.deepEqual(await statements.query('SELECT id FROM t ORDER BY id'), [{ id: 'a' }, { id: 'b' }]);
  });
});

test('a statement whose table changed shape is prepared again, once, outside a transaction', async () => {
  await withDatabase(async (db) => {
    const statements = new PgliteStatements(db);
    await db.exec("CREATE TABLE t (id text); INSERT INTO t VALUES ('a')");
    assert.deepEqual(await statements.query('SELECT * FROM t'), [{ id: 'a' }]);
    await db.exec("ALTER TABLE t ADD COLUMN n int DEFAULT 1");
    assert.deepEqual(await statements.query('SELECT * FROM t'), [{ id: 'a', n: 1 }]);
    assert.deepEqual(await statements.query('SELECT * FROM t'), [{ id: 'a', n: 1 }]);
  });
});

test('in a transaction a stale statement fails the transaction, as PostgreSQL would, and is prepared again after it', async () => {
  await withDatabase(async (db) => {
    const statements = new PgliteStatements(db);
    await db.exec("CREATE TABLE t (id text); INSERT INTO t VALUES ('a')");
    await statements.query('SELECT * FROM t');
    await db.exec('ALTER TABLE t ADD COLUMN n int DEFAULT 1');
    await assert.rejects(
      db.transaction((tx) => statements.query('SELECT * FROM t', [], tx)),
      (error: Error & { code?: string }) => error.code === '0A000',
    );
    assert.deepEqual(await statements.query('SELECT * FROM t'), [{ id: 'a', n: 1 }]);
  });
});

test('beyond its capacity the least recently used statement is closed in PostgreSQL too', async () => {
  await withDatabase(async (db) => {
    const statements = new PgliteStatements(db, { capacity: 3 });
    await statements.query('SELECT 1 AS n');
    await statements.query('SELECT 2 AS n');
    await statements.query('SELECT 1 AS n'); // used again: 2 is now the least recent
    await statements.query('SELECT 3 AS n');
    await statements.query('SELECT 4 AS n'); // evicts 2
    assert.equal(statements.size, 3);
    // The count's statement evicts 1, and both closes go with it; the listing's evicts 3.
    assert.equal(await preparedCount(statements), 3);
    assert.deepEqual(
      (await statements.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY statement')).map((row) => row.statement),
      ['SELECT 4 AS n', 'SELECT count(*)::int AS n FROM pg_prepared_statements', 'SELECT statement FROM pg_prepared_statements ORDER BY statement'],
    );
    assert.deepEqual(await statements.query('SELECT 2 AS n'), [{ n: 2 }]);
  });
});

test('a statement outside an open transaction waits for it; one in it runs in it; one in a closed transaction is refused', async () => {
  await withDatabase(async (db) => {
    const statements = new PgliteStatements(db);
    await db.exec('CREATE TABLE t (id text)');
    let outside: Promise<unknown[]> | undefined;
    let closedTx: Transaction | undefined;
    await db.transaction(async (tx) => {
      closedTx = tx;
      await statements.query("INSERT INTO t VALUES ('in')", [], tx);
      outside = statements.query('SELECT count(*)::int AS n FROM t');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(await statements.query('SELECT count(*)::int AS n FROM t', [], tx), [{ n: 1 }]);
      await tx.rollback();
    });
    // Had it run inside the transaction, it would have seen the row that rolled back.
    assert.deepEqual(await outside, [{ n: 0 }]);
    await assert.rejects(statements.query('SELECT 1', [], closedTx), /Transaction is closed/);
  });
});
