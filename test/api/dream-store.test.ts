import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NotFoundError } from '../../src/errors.ts';
import type { Dream, DreamStatus } from '../../src/schemas/api-dream.ts';
import { DreamStore } from '../../src/store/dream-store.ts';
import { migrateSchema } from '../../src/store/migrate-schema.ts';
import { decodeCursor } from '../../src/store/page-cursor.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { storeBackends } from '../support/store-backends.ts';

const backends = storeBackends();

async function open(openDriver: () => Promise<SqlDriver>): Promise<{ dreams: DreamStore } & AsyncDisposable> {
  const driver = await openDriver();
  await migrateSchema(driver);
  return { dreams: new DreamStore(driver), [Symbol.asyncDispose]: () => driver.close() };
}

const T0 = Date.parse('2026-04-01T12:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
let serial = 0;

/** A dream as the service stores it, `seconds` after T0, with whatever `overrides` a case needs. */
function dream(seconds: number, overrides: Partial<Dream> = {}): Dream {
  serial += 1;
  return {
    type: 'dream',
    id: `drm_${String(serial).padStart(6, '0')}`,
    status: 'pending',
    inputs: [
      { type: 'memory_store', memory_store_id: 'memstore_in' },
      { type: 'sessions', session_ids: ['sesn_a', 'sesn_b'] },
    ],
    model: { id: 'claude-sonnet-5-5', speed: 'standard' },
    instructions: null,
    output_behavior: { type: 'create_new' },
    outputs: [],
    session_id: null,
    error: null,
    usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    created_at: at(seconds),
    ended_at: null,
    archived_at: null,
    ...overrides,
  };
}

/** Every id `list` gives with these options, page by page (`limit` per page). */
async function listAll(dreams: DreamStore, options: Omit<Parameters<DreamStore['list']>[0], 'limit' | 'cursor'> = {}, limit = 2): Promise<string[]> {
  const seen: string[] = [];
  let page = await dreams.list({ ...options, limit });
  seen.push(...page.data.map((d) => d.id));
  while (page.next_page) {
    page = await dreams.list({ ...options, limit, cursor: decodeCursor(page.next_page) });
    seen.push(...page.data.map((d) => d.id));
  }
  return seen;
}

for (const [backend, openDriver] of Object.entries(backends)) {
  describe(backend, () => {
    test('create then retrieve gives the record back as stored; an unknown id is a NotFoundError naming it', async () => {
      await using s = await open(openDriver);
      const made = dream(0, { instructions: 'one file per topic', output_behavior: { type: 'update_existing', memory_store_id: 'memstore_in' } });
      assert.deepEqual(await s.dreams.create(made), made);
      assert.deepEqual(await s.dreams.retrieve(made.id), made);
      await assert.rejects(s.dreams.retrieve('drm_nope'), (e: unknown) => e instanceof NotFoundError && e.message === 'dream drm_nope not found');
    });

    test('list: newest first across pages, archived left out unless asked for, filtered by status and creation time', async () => {
      await using s = await open(openDriver);
      const statuses: DreamStatus[] = ['pending', 'running', 'completed', 'failed', 'canceled', 'completed'];
      const made = statuses.map((status, i) => dream(i, { status }));
      // Two in the same millisecond: the id breaks the tie, and paging neither repeats nor skips one.
      made.push(dream(5, { status: 'completed' }));
      for (const d of made) await s.dreams.create(d);
      await s.dreams.update(made[3]!.id, { archived_at: at(100) });
      const newestFirst = [...made].sort((a, b) => (a.created_at === b.created_at ? b.id.localeCompare(a.id) : b.created_at.localeCompare(a.created_at))).map((d) => d.id);
      const archivedId = made[3]!.id;

      assert.deepEqual(await listAll(s.dreams), newestFirst.filter((id) => id !== archivedId));
      assert.deepEqual(await listAll(s.dreams, { includeArchived: true }), newestFirst);
      assert.deepEqual(await listAll(s.dreams, { includeArchived: true }, 100), newestFirst, 'one page holds them all');

      const byStatus = (...wanted: DreamStatus[]) => listAll(s.dreams, { statuses: wanted, includeArchived: true });
      assert.deepEqual(await byStatus('completed'), [made[6]!, made[5]!, made[2]!].map((d) => d.id));
      assert.deepEqual(await byStatus('pending', 'running'), [made[1]!.id, made[0]!.id]);
      assert.deepEqual(await byStatus('failed'), [archivedId]);
      assert.deepEqual(await listAll(s.dreams, { statuses: ['failed'] }), [], 'the only failed dream is archived');

      assert.deepEqual(await listAll(s.dreams, { createdAt: { gt: at(1), lt: at(4) } }), [made[2]!.id]);
      assert.deepEqual(await listAll(s.dreams, { createdAt: { gt: at(4) } }), newestFirst.slice(0, 2));
      assert.deepEqual(await listAll(s.dreams, { createdAt: { lt: at(0) } }), []);

      // Going back from the second page gives the first again.
      const first = await s.dreams.list({ limit: 2 });
      const second = await s.dreams.list({ limit: 2, cursor: decodeCursor(first.next_page!) });
      const back = await s.dreams.list({ limit: 2, cursor: decodeCursor(second.prev_page!) });
      assert.deepEqual(back.data.map((d) => d.id), first.data.map((d) => d.id));
      assert.equal(back.prev_page, null);
    });

    test('transition changes a dream only from an expected status, returns it as it is after, and never leaves a final status', async () => {
      await using s = await open(openDriver);
      const d = await s.dreams.create(dream(0));

      const running = await s.dreams.transition(d.id, { from: ['pending'], to: { status: 'running', session_id: 'sesn_dream' } });
      assert.deepEqual(running, { ...d, status: 'running', session_id: 'sesn_dream' });
      assert.deepEqual(await s.dreams.retrieve(d.id), running);

      const unchanged = await s.dreams.transition(d.id, { from: ['pending'], to: { status: 'running', session_id: 'sesn_other' } });
      assert.deepEqual(unchanged, running, 'not pending any more: nothing changes');

      const failed = await s.dreams.transition(d.id, { from: ['pending', 'running'], to: { status: 'failed', ended_at: at(10), error: { type: 'timeout', message: 'took too long' } } });
      assert.deepEqual([failed.status, failed.ended_at, failed.error], ['failed', at(10), { type: 'timeout', message: 'took too long' }]);

      // Even a caller that names the final status in `from` cannot move the dream on.
      for (const status of ['running', 'completed', 'canceled'] as const) {
        assert.deepEqual(await s.dreams.transition(d.id, { from: ['pending', 'running', 'completed', 'failed', 'canceled'], to: { status, ended_at: at(20) } }), failed);
      }
      assert.deepEqual(await s.dreams.retrieve(d.id), failed);
      await assert.rejects(s.dreams.transition('drm_nope', { from: ['pending'], to: { status: 'running' } }), NotFoundError);
    });

    test('a cancel and the run finishing at once: one of them wins, and both callers see the winner', async () => {
      await using s = await open(openDriver);
      for (let round = 0; round < 5; round++) {
        const d = await s.dreams.create(dream(round, { status: 'running' }));
        const [canceled, completed] = await Promise.all([
          s.dreams.transition(d.id, { from: ['pending', 'running'], to: { status: 'canceled', ended_at: at(50) } }),
          s.dreams.transition(d.id, { from: ['pending', 'running'], to: { status: 'completed', ended_at: at(60), outputs: [{ type: 'memory_store', memory_store_id: 'memstore_out' }] } }),
        ]);
        assert.deepEqual(canceled, completed);
        assert.ok(canceled.status === 'canceled' || canceled.status === 'completed', canceled.status);
        assert.deepEqual(await s.dreams.retrieve(d.id), canceled);
      }
    });

    test('update patches outputs, session and usage without touching the status; archival shows in the archived filter', async () => {
      await using s = await open(openDriver);
      const d = await s.dreams.create(dream(0, { status: 'running' }));
      const usage = { input_tokens: 120, output_tokens: 30, cache_creation_input_tokens: 7, cache_read_input_tokens: 900 };
      const patched = await s.dreams.update(d.id, { outputs: [{ type: 'memory_store', memory_store_id: 'memstore_out' }], session_id: 'sesn_dream', usage });
      assert.deepEqual(patched, { ...d, outputs: [{ type: 'memory_store', memory_store_id: 'memstore_out' }], session_id: 'sesn_dream', usage });
      assert.deepEqual(await s.dreams.retrieve(d.id), patched);

      const ended = await s.dreams.transition(d.id, { from: ['running'], to: { status: 'completed', ended_at: at(5) } });
      const archived = await s.dreams.update(d.id, { archived_at: at(6) });
      assert.deepEqual(archived, { ...ended, archived_at: at(6) });
      assert.deepEqual(await listAll(s.dreams), []);
      assert.deepEqual(await listAll(s.dreams, { includeArchived: true }), [d.id]);
      await assert.rejects(s.dreams.update('drm_nope', { usage }), NotFoundError);
    });

    test('activeWriterOf: only a pending or running update_existing dream on that very store', async () => {
      await using s = await open(openDriver);
      const into = (store: string, status: DreamStatus) =>
        dream(0, { status, inputs: [{ type: 'memory_store', memory_store_id: store }, { type: 'sessions', session_ids: ['sesn_a'] }], output_behavior: { type: 'update_existing', memory_store_id: store } });
      await s.dreams.create(dream(0, { status: 'running' })); // create_new over memstore_in: writes elsewhere
      for (const status of ['completed', 'failed', 'canceled'] as const) await s.dreams.create(into('memstore_in', status));
      await s.dreams.create(into('memstore_other', 'running'));
      assert.equal(await s.dreams.activeWriterOf('memstore_in'), undefined);

      const writer = await s.dreams.create(into('memstore_in', 'pending'));
      assert.equal((await s.dreams.activeWriterOf('memstore_in'))?.id, writer.id);
      await s.dreams.transition(writer.id, { from: ['pending'], to: { status: 'running' } });
      assert.equal((await s.dreams.activeWriterOf('memstore_in'))?.id, writer.id);
      await s.dreams.transition(writer.id, { from: ['running'], to: { status: 'canceled', ended_at: at(1) } });
      assert.equal(await s.dreams.activeWriterOf('memstore_in'), undefined);
    });

    test('latestOver: the newest dream that read the store and was neither failed nor canceled', async () => {
      await using s = await open(openDriver);
      const over = (store: string, seconds: number, status: DreamStatus) => dream(seconds, { status, inputs: [{ type: 'memory_store', memory_store_id: store }, { type: 'sessions', session_ids: ['sesn_a'] }] });
      assert.equal(await s.dreams.latestOver('memstore_x'), undefined);
      const done = await s.dreams.create(over('memstore_x', 0, 'completed'));
      await s.dreams.create(over('memstore_x', 1, 'failed'));
      await s.dreams.create(over('memstore_x', 2, 'canceled'));
      await s.dreams.create(over('memstore_y', 3, 'completed'));
      assert.equal((await s.dreams.latestOver('memstore_x'))?.id, done.id);
      const running = await s.dreams.create(over('memstore_x', 4, 'running'));
      assert.equal((await s.dreams.latestOver('memstore_x'))?.id, running.id);
    });
  });
}
