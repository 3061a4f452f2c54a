/**
 * Migrations of stored records. Migration 11 makes one record of a session's two rows: a
 * store written by the release before it (a `sessions` row with the workflow's definition,
 * an `api_sessions` row with what the API client named) reads back as one record, through
 * the API's list too. Migration 21 rewrites stored budgets from decimal dollars to cents;
 * migration 22 gives a deployment run's session its `deployment_id`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { migrateSchema, statementsOf } from '../../src/store/migrate-schema.ts';
import { migrations } from '../../src/store/migrations.ts';
import { SessionRecords } from '../../src/store/session-records.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { storeBackends } from '../support/store-backends.ts';

const backends = storeBackends();

/** A store as the release before migration `id` left it. */
async function migrateBefore(db: SqlDriver, id: number): Promise<void> {
  await db.exec('CREATE TABLE IF NOT EXISTS longhaul_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)');
  for (const migration of migrations.filter((m) => m.id < id)) {
    for (const statement of statementsOf(migration.sql)) await db.query(statement);
    await db.query('INSERT INTO longhaul_migrations (id, name, applied_at) VALUES ($1, $2, $3)', [migration.id, migration.name, 'then']);
  }
}

for (const [backend, openDriver] of Object.entries(backends)) {
  describe(backend, () => {
    test('a store of the previous release: API and library sessions become one record each, nothing lost', async () => {
      const db = await openDriver();
      try {
        await migrateBefore(db, 11);
        const agent = { name: 'a', model: { id: 'claude-sonnet-5-5' }, system: 'hi', tools: [], mcp_servers: [] };
        const environment = { networking: { type: 'limited' } };
        const legacy = (id: string, created: string) =>
          db.query('INSERT INTO sessions (id, record, created_at, updated_at) VALUES ($1, $2::text::jsonb, $3, $3)', [id, JSON.stringify({ id, agent, environment, created_at: created }), created]);
        await legacy('sesn_api', '2026-11-01T00:00:00.001Z');
        await legacy('sesn_lib', '2026-11-02T00:00:00.000Z');
        const apiRecord = {
          id: 'sesn_api',
          agent: { type: 'agent', id: 'agent_1', version: 3, name: 'a' },
          environment_id: 'env_1',
          title: 'kept',
          metadata: { k: 'v' },
          vault_ids: [],
          budget: null,
          created_at: '2026-11-01T00:00:00.000Z',
          updated_at: '2026-11-03T00:00:00.000Z',
          archived_at: null,
        };
        await db.query(
          'INSERT INTO api_sessions (id, record, agent_id, environment_id, created_at, updated_at) VALUES ($1, $2::text::jsonb, $3, $4, $5, $6)',
          ['sesn_api', JSON.stringify(apiRecord), 'agent_1', 'env_1', apiRecord.created_at, apiRecord.updated_at],
        );

        await migrateSchema(db);
        const records = new SessionRecords(db);

        const api = await records.retrieve('sesn_api');
        assert.deepEqual(api, { ...apiRecord, definition: { agent, environment } });
        const lib = await records.retrieve('sesn_lib');
        assert.deepEqual(lib.definition, { agent, environment });
        assert.deepEqual([lib.agent, lib.environment_id, lib.title, lib.metadata, lib.archived_at], [undefined, undefined, null, {}, null]);

        const listed = await records.listApiSessions({ limit: 10, agentId: 'agent_1', agentVersion: 3 });
        assert.deepEqual(listed.data.map((r) => r.id), ['sesn_api'], 'only API sessions are listed, by the columns the API filters on');
        const archived = await records.archive('sesn_api');
        assert.notEqual(archived.archived_at, null);
        assert.deepEqual((await records.listApiSessions({ limit: 10 })).data, []);
      } finally {
        await db.close();
      }
    });

    test('budgets stored in decimal dollars read back in cents, rounded to the nearest (21); a deployment run\'s session names its deployment (22)', async () => {
      const db = await openDriver();
      try {
        await migrateBefore(db, 21);
        const budget = (amount: string) => ({ type: 'limit', max_list_cost: { amount, currency: 'USD' } });
        const session = (id: string, b: unknown) =>
          db.query('INSERT INTO sessions (id, record, created_at, updated_at) VALUES ($1, $2::text::jsonb, $3, $3)', [id, JSON.stringify({ id, title: id, metadata: {}, budget: b }), '2026-11-01T00:00:00.000Z']);
        await session('sesn_cents', budget('0.05'));
        await session('sesn_whole', budget('25'));
        await session('sesn_half', budget('12.345'));
        await session('sesn_none', null);
        await db.query('INSERT INTO deployments (id, agent_id, status, record, created_at) VALUES ($1, $2, $3, $4::text::jsonb, $5)', [
          'depl_1', 'agent_1', 'active', JSON.stringify({ id: 'depl_1', budget: budget('1.5') }), '2026-11-01T00:00:00.000Z',
        ]);

        const run = { id: 'sesn_run', title: 'run', metadata: { deployment_id: 'depl_1', deployment_run_id: 'drun_1' }, budget: null };
        const own = { id: 'sesn_own', title: 'own', metadata: { deployment_id: 'mine' }, budget: null };
        for (const record of [run, own]) {
          await db.query('INSERT INTO sessions (id, record, created_at, updated_at) VALUES ($1, $2::text::jsonb, $3, $3)', [record.id, JSON.stringify(record), '2026-11-01T00:00:00.000Z']);
        }

        await migrateSchema(db);
        const records = new SessionRecords(db);
        // Migration 22: a deployment run's session names its deployment; a user's own metadata key is no deployment.
        assert.equal((await records.retrieve('sesn_run')).deployment_id, 'depl_1');
        assert.equal((await records.retrieve('sesn_own')).deployment_id, undefined);
        const amounts = await Promise.all(['sesn_cents', 'sesn_whole', 'sesn_half'].map(async (id) => (await records.retrieve(id)).budget?.max_list_cost.amount));
        assert.deepEqual(amounts, ['5', '2500', '1235']);
        assert.equal((await records.retrieve('sesn_none')).budget, null);
        const [deployment] = await db.query<{ record: { budget: { max_list_cost: { amount: string } } } }>('SELECT record FROM deployments');
        assert.equal(deployment!.record.budget.max_list_cost.amount, '150');
      } finally {
        await db.close();
      }
    });
  });
}
