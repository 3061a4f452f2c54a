import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openPgliteDriver } from '../../src/store/pglite-driver.ts';
import { openPostgresDriver } from '../../src/store/postgres-driver.ts';
import { SessionStore, type StoredEvent } from '../../src/store/session-store.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { TranscriptCache } from '../../activities/model/transcript-cache.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

// The same suite runs on the embedded default (PGlite, in-process and on its own thread)
// and on a real PostgreSQL server (a fresh database per test).
let postgres: TestPostgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres.stop();
});

const backends = {
  pglite: async () => SessionStore.open(await openPgliteDriver()),
  'pglite-thread': async () => SessionStore.open(await openPgliteDriver({ placement: 'thread' })),
  postgres: async () => SessionStore.open(await openPostgresDriver({ url: await postgres.createDatabase() })),
};

for (const [backend, openStore] of Object.entries(backends)) {
describe(backend, () => {

test('append is idempotent by key and sequence numbers are gapless', async () => {
  await using store = await openStore();
  const first = await store.append('sesn_1', [
    { key: 'a', event: { type: 'session.status_running' } },
    { key: 'b', event: { type: 'agent.message', content: [{ type: 'text', text: 'hi' }] } },
  ]);
  assert.deepEqual(first.map((e) => e.seq), [1, 2]);
  const again = await store.append('sesn_1', [
    { key: 'b', event: { type: 'agent.message', content: [{ type: 'text', text: 'DIFFERENT' }] } },
    { key: 'c', event: { type: 'session.status_idle', stop_reason: { type: 'end_turn' }, stop_details: null } },
  ]);
  assert.deepEqual(again.map((e) => e.seq), [2, 3]);
  assert.equal(again[0]?.event.id, first[1]?.event.id, 'a retried append returns the stored event');
  const all = await store.listEvents('sesn_1');
  assert.deepEqual(all.map((e) => e.seq), [1, 2, 3]);
  assert.deepEqual((all[1]?.event as { content: unknown }).content, [{ type: 'text', text: 'hi' }]);
  assert.match(all[0]!.event.id, /^sevt_011C[0-9A-Za-z]{20}$/);
  assert.ok(all.every((e) => typeof e.event.processed_at === 'string'));
  assert.deepEqual((await store.append('sesn_2', [{ key: 'a', event: { type: 'session.status_running' } }])).map((e) => e.seq), [1], 'sessions count separately');
});

test('a key given twice in one append is stored once, as first given', async () => {
  await using store = await openStore();
  const stored = await store.append('twice', [
    { key: 'k', event: { type: 'agent.message', content: [{ type: 'text', text: 'first' }] } },
    { key: 'k', event: { type: 'agent.message', content: [{ type: 'text', text: 'second' }] } },
    { key: 'other', event: { type: 'agent.thinking' } },
  ]);
  assert.deepEqual(stored.map((e) => e.seq), [1, 1, 2]);
  assert.equal(JSON.stringify(stored[1]?.event).includes('first'), true);
  const logged = await store.listEvents('twice');
  assert.deepEqual(logged.map((e) => e.seq), [1, 2]);
  assert.deepStrictEqual(logged[0], stored[0]);
});

test('concurrent appenders to one session still get gapless, unique sequence numbers', async () => {
  await using store = await openStore();
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.append('sesn_c', [{ key: `k${i}`, event: { type: 'agent.thinking' } }, { key: `k${i}x`, event: { type: 'agent.thinking' } }])));
  const seqs = (await store.listEvents('sesn_c', { limit: 100 })).map((e) => e.seq);
  assert.deepEqual(seqs, Array.from({ length: 40 }, (_, i) => i + 1));
});

test('listEvents pages in both orders and filters by type', async () => {
  await using store = await openStore();
  await store.append('s', Array.from({ length: 7 }, (_, i) => ({ key: `e${i}`, event: { type: i % 2 ? 'agent.thinking' : 'agent.message', content: [] } })));
  assert.deepEqual((await store.listEvents('s', { afterSeq: 2, limit: 3 })).map((e) => e.seq), [3, 4, 5]);
  assert.deepEqual((await store.listEvents('s', { order: 'desc', limit: 2 })).map((e) => e.seq), [7, 6]);
  assert.deepEqual((await store.listEvents('s', { order: 'desc', beforeSeq: 6, limit: 2 })).map((e) => e.seq), [5, 4]);
  assert.deepEqual((await store.listEvents('s', { types: ['agent.thinking'] })).map((e) => e.seq), [2, 4, 6]);
});

test('tail replays from a cursor, then delivers live appends', async () => {
  await using store = await openStore();
  await store.append('t', [{ key: '1', event: { type: 'agent.thinking' } }, { key: '2', event: { type: 'agent.thinking' } }]);
  const controller = new AbortController();
  const seen: number[] = [];
  const reading = (async () => {
    for await (const entry of store.tail('t', { afterSeq: 1, signal: controller.signal, pollMs: 60_000 })) {
      seen.push(entry.seq);
      if (entry.seq === 4) controller.abort();
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  await store.append('t', [{ key: '3', event: { type: 'agent.thinking' } }]);
  await store.append('t', [{ key: '4', event: { type: 'agent.thinking' } }]);
  await reading;
  assert.deepEqual(seen, [2, 3, 4]);
});

test('many live readers of one session each get every event exactly once, in order, while appends race', async () => {
  await using store = await openStore();
  await store.append('fan', [{ key: 'seed', event: { type: 'agent.thinking' } }]);
  const controller = new AbortController();
  const TOTAL = 60;
  const readers = Array.from({ length: 25 }, async (_, i) => {
    const seen: number[] = [];
    // Readers start from different places: the beginning, the seed, and one joining late.
    const from = i % 3 === 0 ? 0 : 1;
    for await (const entry of store.tail('fan', { afterSeq: from, signal: controller.signal, pollMs: 60_000 })) {
      seen.push(entry.seq);
      if (entry.seq === TOTAL + 1) break;
    }
    return { from, seen };
  });
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < TOTAL; i += 3) {
    await Promise.all([0, 1, 2].map((j) => store.append('fan', [{ key: `e${i + j}`, event: { type: 'agent.thinking' } }])));
  }
  const late = (async () => {
    const seen: number[] = [];
    for await (const entry of store.tail('fan', { afterSeq: 10, signal: controller.signal, pollMs: 60_000 })) {
      seen.push(entry.seq);
      if (entry.seq === TOTAL + 1) break;
    }
    return { from: 10, seen };
  })();
  const timer = setTimeout(() => controller.abort(), 20_000);
  try {
    for (const { from, seen } of [...(await Promise.all(readers)), await late]) {
      assert.deepEqual(seen, Array.from({ length: TOTAL + 1 - from }, (_, k) => from + k + 1));
    }
  } finally {
    clearTimeout(timer);
  }
});

test('transcript items append once, in order', async () => {
  await using store = await openStore();
  await store.appendTranscript('s', [{ key: 'u1', item: { kind: 'user', content: [{ type: 'text', text: 'a' }] } }]);
  await store.append('s', [], [
    { key: 'u1', item: { kind: 'user', content: [{ type: 'text', text: 'dup' }] } },
    { key: 'u2', item: { kind: 'user', content: [{ type: 'text', text: 'b' }] } },
  ]);
  assert.deepEqual((await store.readTranscript('s')).map((r) => r.key), ['u1', 'u2']);
  assert.deepEqual(await store.getTranscriptItem('s', 'u1'), { kind: 'user', content: [{ type: 'text', text: 'a' }] });
});

test('a worker reads a compacted transcript from where the model view starts, and keeps only that', async () => {
  await using store = await openStore();
  const user = (text: string) => ({ kind: 'user' as const, content: [{ type: 'text' as const, text }] });
  const call = (id: string) => ({ kind: 'assistant' as const, stop_reason: 'tool_use', content: [{ type: 'tool_use' as const, id, name: 'bash', input: {}, caller: { type: 'direct' as const } }] });
  const output = (id: string) => ({ kind: 'tool_result' as const, tool_use_id: id, is_error: false, content: [{ type: 'text' as const, text: 'o'.repeat(5_000) }] });
  await store.appendTranscript('s', [
    { key: 'u', item: user('task') }, // 1
    { key: 'assistant:call:0', item: call('t0') }, // 2
    { key: 't0', item: output('t0') }, // 3
    { key: 'assistant:call:1', item: call('t1') }, // 4
    { key: 't1', item: output('t1') }, // 5
  ]);
  assert.equal(await store.transcriptLiveFrom('s'), 0);
  const warm = new TranscriptCache();
  assert.equal((await warm.read(store, 's')).length, 5);
  await store.appendTranscript('s', [{ key: 'summary:3', item: { kind: 'summary', text: 'S', through: 3 } }]); // 6
  assert.equal(await store.transcriptLiveFrom('s'), 3);
  const live = [6, 4, 5];
  assert.deepEqual((await warm.read(store, 's')).map((r) => r.pos), live, 'a warm cache forgets what the summary replaced');
  assert.deepEqual((await new TranscriptCache().read(store, 's')).map((r) => r.pos), live, 'a cold one never reads it');

  // A server compaction in an answer after the summary starts the view there.
  await store.appendTranscript('s', [{ key: 'assistant:call:2', item: { kind: 'assistant', stop_reason: 'end_turn', content: [{ type: 'compaction', content: 'C', encrypted_content: 'e' }, { type: 'text', text: 'hi', citations: null }] } }]); // 7
  assert.equal(await store.transcriptLiveFrom('s'), 6);
  assert.deepEqual((await new TranscriptCache().read(store, 's')).map((r) => r.pos), [7]);

  // A cleared output is kept as its note, with its stored size.
  const cache = new TranscriptCache();
  await store.appendTranscript('s', [{ key: 'u2', item: user('more') }, { key: 'assistant:call:3', item: call('t3') }, { key: 't3', item: output('t3') }]);
  const before = (await cache.read(store, 's')).find((r) => r.pos === 10)!;
  const note = { kind: 'tool_result' as const, tool_use_id: 't3', is_error: false, content: [{ type: 'text' as const, text: 'cleared' }] };
  cache.forgetCleared('s', [{ pos: 10, item: note }]);
  const after = (await cache.read(store, 's')).find((r) => r.pos === 10)!;
  assert.deepEqual(after, { pos: 10, item: note, bytes: before.bytes });
  assert.ok(before.bytes! > 5_000);
});

test('attempt usage: later records replace earlier ones until the attempt is final; a retry finalizes the attempts before it; delete removes them', async () => {
  await using store = await openStore();
  const usage = (input: number, output: number) => ({ input_tokens: input, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 7 });
  const zero = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  await store.putAttemptUsage('s', { callKey: 'call:0', attempt: 1, model: usage(100, 1), judge: zero, final: false });
  await store.putAttemptUsage('s', { callKey: 'call:0', attempt: 1, model: usage(100, 40), judge: zero, final: false });
  // Attempt 2 died before the endpoint reported anything; attempt 3 is the retry that finalizes both.
  const earlier = await store.finalizeAttemptUsage('s', 'call:0', { beforeAttempt: 3 });
  assert.deepEqual(earlier, [
    { callKey: 'call:0', attempt: 1, model: usage(100, 40), judge: zero, final: true },
    { callKey: 'call:0', attempt: 2, model: zero, judge: zero, final: true },
  ]);
  // A worker still running attempt 1 (or 2) cannot change what is counted.
  await store.putAttemptUsage('s', { callKey: 'call:0', attempt: 1, model: usage(100, 90), judge: zero, final: true });
  await store.putAttemptUsage('s', { callKey: 'call:0', attempt: 2, model: usage(5, 5), judge: zero, final: false });
  await store.putAttemptUsage('s', { callKey: 'call:0', attempt: 3, model: usage(120, 9), judge: usage(30, 2), final: true });
  await store.putAttemptUsage('s', { callKey: 'call:1', attempt: 1, model: usage(1, 1), judge: zero, final: false });
  assert.deepEqual(
    (await store.listAttemptUsage('s', { callKey: 'call:0' })).map((r) => [r.attempt, r.model.output_tokens, r.judge.input_tokens, r.final]),
    [[1, 40, 0, true], [2, 0, 0, true], [3, 9, 30, true]],
  );
  assert.deepEqual(await store.finalizeAttemptUsage('s', 'call:1', { beforeAttempt: 1 }), [], 'a first attempt has nothing before it');
  assert.equal((await store.listAttemptUsage('s')).length, 4);
  await store.deleteSession('s');
  assert.deepEqual(await store.listAttemptUsage('s'), []);
});

test('an answer appended with its attempt\'s final usage writes both in one statement; a record a retry made final stays', async () => {
  await using store = await openStore();
  const usage = (input: number, output: number) => ({ input_tokens: input, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  await store.putAttemptUsage('s', { callKey: 'call:0', attempt: 1, model: usage(100, 1), judge: usage(0, 0), final: false });
  await store.append('s', [{ key: 'call:0:answer', event: { type: 'agent.message', content: [{ type: 'text', text: 'hi' }] } }], [], {
    finalUsage: { callKey: 'call:0', attempt: 1, model: usage(100, 40), judge: usage(3, 1) },
  });
  assert.deepEqual(await store.listAttemptUsage('s', { callKey: 'call:0' }), [{ callKey: 'call:0', attempt: 1, model: usage(100, 40), judge: usage(3, 1), final: true }]);
  // Attempt 1 of call:1 was made final by its retry; its late answer does not change what it was counted.
  await store.finalizeAttemptUsage('s', 'call:1', { beforeAttempt: 2 });
  await store.append('s', [], [], { finalUsage: { callKey: 'call:1', attempt: 1, model: usage(9, 9), judge: usage(0, 0) } });
  assert.deepEqual((await store.listAttemptUsage('s', { callKey: 'call:1' })).map((r) => [r.attempt, r.model.input_tokens, r.final]), [[1, 0, true]]);
  assert.deepEqual((await store.listEvents('s')).map((e) => e.event.type), ['agent.message']);
});

});
}

test('the store reopens a PGlite data directory with its data', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const dir = await mkdtemp('/tmp/longhaul-store-');
  try {
    const first = await SessionStore.open(await openPgliteDriver({ dataDir: dir }));
    await first.append('p', [{ key: 'x', event: { type: 'agent.thinking' } }]);
    await first.close();
    await using second = await SessionStore.open(await openPgliteDriver({ dataDir: dir }));
    assert.equal(await second.lastSeq('p'), 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a live reader in the appending process gets new events without reading them back; a reader elsewhere reads them on the notification', async () => {
  const driver = await openPgliteDriver();
  // Two stores on one database, as `longhaul worker` and `longhaul serve` would be: each counts its own feed reads.
  const counted = (closes: boolean) => {
    const reads = { count: 0 };
    const wrapped: SqlDriver = {
      query: (sql, params) => {
        if (/FROM session_events WHERE session_id = \$1 AND seq > \$2 ORDER BY/.test(sql)) reads.count++;
        return driver.query(sql, params);
      },
      transaction: (fn) => driver.transaction(fn),
      exec: (sql) => driver.exec(sql),
      notify: (channel, payload) => driver.notify(channel, payload),
      listen: (channel, onPayload) => driver.listen(channel, onPayload),
      close: () => (closes ? driver.close() : Promise.resolve()),
    };
    return { wrapped, reads };
  };
  const appending = counted(true);
  const elsewhere = counted(false);
  await using writer = await SessionStore.open(appending.wrapped);
  await using reader = await SessionStore.open(elsewhere.wrapped);
  await writer.append('local', [{ key: 'seed', event: { type: 'agent.thinking' } }]);
  const controller = new AbortController();
  const follow = async (store: SessionStore) => {
    const seen: StoredEvent[] = [];
    for await (const entry of store.tail('local', { afterSeq: 1, signal: controller.signal, pollMs: 60_000 })) {
      seen.push(entry);
      if (entry.seq === 11) break;
    }
    return seen;
  };
  const following = [follow(writer), follow(reader)];
  // Both readers have replayed and joined their feeds.
  await new Promise((resolve) => setTimeout(resolve, 200));
  appending.reads.count = 0;
  elsewhere.reads.count = 0;
  for (let i = 2; i <= 11; i++) await writer.append('local', [{ key: `e${i}`, event: { type: 'agent.thinking' } }]);
  const [local, remote] = await Promise.all(following);
  assert.equal(appending.reads.count, 0, 'the appending store read its own events back');
  assert.ok(elsewhere.reads.count >= 1, 'the other store was not woken by the notification');
  // Both were handed exactly what the log holds.
  const logged = await writer.listEvents('local', { afterSeq: 1 });
  assert.deepEqual(logged.map((e) => e.seq), Array.from({ length: 10 }, (_, i) => i + 2));
  assert.deepStrictEqual(local, logged);
  assert.deepStrictEqual(remote, logged);
});

test('PostgreSQL: a request to a running call one process makes is heard by every process on the database, the asker too', async () => {
  const url = await postgres.createDatabase();
  await using asker = await SessionStore.open(await openPostgresDriver({ url }));
  await using runner = await SessionStore.open(await openPostgresDriver({ url }));
  const heard = (store: SessionStore, count: number) =>
    new Promise<unknown[][]>((resolve) => {
      const got: unknown[][] = [];
      const stop = store.onRunningCallRequest((...request) => {
        got.push(request);
        if (got.length < count) return;
        stop();
        resolve(got);
      });
    });
  const hearing = [heard(runner, 2), heard(asker, 2)];
  await asker.askRunningCall('yield', 'sesn_yield', 'call:7');
  await asker.askRunningCall('interrupt', 'sesn_yield', 'call:9');
  const expected = [
    ['yield', 'sesn_yield', 'call:7'],
    ['interrupt', 'sesn_yield', 'call:9'],
  ];
  assert.deepEqual(await Promise.all(hearing), [expected, expected]);
});

test('PostgreSQL: a live reader whose notifications were lost with its connection reads what it missed when the store listens again', async () => {
  const url = await postgres.createDatabase();
  await using writer = await SessionStore.open(await openPostgresDriver({ url }));
  const admin = await openPostgresDriver({ url, maxConnections: 1 });
  try {
    const listeners = async () => (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'listen%'`)).map((row) => row.pid);
    const writerListens = new Set(await listeners());
    await using reader = await SessionStore.open(await openPostgresDriver({ url }));
    const readerListens = (await listeners()).filter((pid) => !writerListens.has(pid));
    assert.equal(readerListens.length, 1, 'the reader listens on a connection of its own');
    await writer.append('lost', [{ key: 'seed', event: { type: 'agent.thinking' } }]);
    const controller = new AbortController();
    // No poll within the test's time: only the store's own catch-up can deliver.
    const following = (async () => {
      const seen: number[] = [];
      for await (const entry of reader.tail('lost', { afterSeq: 1, signal: controller.signal, pollMs: 60_000, maxPollMs: 60_000 })) {
        seen.push(entry.seq);
        if (entry.seq === 3) break;
      }
      return seen;
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The reader's listening connection dies; what is appended before it listens again is notified to nobody there.
    await admin.query('SELECT pg_terminate_backend($1)', [readerListens[0]]);
    await writer.append('lost', [{ key: 'a', event: { type: 'agent.thinking' } }]);
    await writer.append('lost', [{ key: 'b', event: { type: 'agent.thinking' } }]);
    const timer = setTimeout(() => controller.abort(), 10_000);
    try {
      assert.deepEqual(await following, [2, 3]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await admin.close();
  }
});
