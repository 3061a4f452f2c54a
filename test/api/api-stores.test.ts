import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { agentDefinitionOf, agentSpecFromCreate, AgentCreateParams } from '../../src/schemas/api-agent.ts';
import { environmentDefinitionOf } from '../../src/schemas/api-environment.ts';
import { ConflictError } from '../../src/store/conflict-error.ts';
import { openApiStores, type ApiStores } from '../../src/store/open-api-stores.ts';
import { decodeCursor } from '../../src/store/page-cursor.ts';
import type { SessionRecords } from '../../src/store/session-records.ts';
import { SessionStore } from '../../src/store/session-store.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { storeBackends } from '../support/store-backends.ts';

const backends: Record<string, () => Promise<SqlDriver>> = storeBackends();

async function open(openDriver: () => Promise<SqlDriver>): Promise<ApiStores & { sessions: SessionRecords } & AsyncDisposable> {
  const driver = await openDriver();
  // The session store migrates first here, as `longhaul dev` does; the API stores share its driver.
  const store = await SessionStore.open(driver);
  const stores = await openApiStores(driver);
  return { ...stores, sessions: store.sessions, [Symbol.asyncDispose]: () => store.close() };
}

const spec = (name: string) => agentSpecFromCreate(AgentCreateParams.parse({ name, model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] }));

for (const [backend, openDriver] of Object.entries(backends)) {
  describe(backend, () => {
    test('agent versions are immutable and a stale version conflicts', async () => {
      await using s = await open(openDriver);
      const agent = await s.agents.create(spec('a'));
      const v2 = await s.agents.update(agent.id, { version: 1, system: 'two', metadata: { k: 'v' } });
      assert.deepEqual([v2.version, v2.system, v2.metadata], [2, 'two', { k: 'v' }]);
      await assert.rejects(s.agents.update(agent.id, { version: 1, system: 'three' }), ConflictError);
      assert.equal((await s.agents.retrieve(agent.id, 1)).system, null);
      assert.deepEqual((await s.agents.listVersions(agent.id, { limit: 10 })).data.map((a) => a.version), [2, 1]);
    });

    test('an update that resends what is stored makes no version, whatever order jsonb keeps the keys in', async () => {
      await using s = await open(openDriver);
      const agent = await s.agents.create(spec('a'));
      const resent = await s.agents.update(agent.id, { version: 1, model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }], mcp_servers: [] });
      assert.equal(resent.version, 1);
      assert.equal((await s.agents.update(agent.id, { version: 1, tools: [] })).version, 2);
    });

    test('lists page by (created_at, id) both ways without repeats', async () => {
      await using s = await open(openDriver);
      const created = [];
      for (let i = 0; i < 5; i++) created.push(await s.agents.create(spec(`a${i}`)));
      const ids = created.map((a) => a.id);
      // Newest first; agents made in the same millisecond are ordered by id.
      const newestFirst = [...created]
        .sort((a, b) => (a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1))
        .map((a) => a.id);
      const seen: string[] = [];
      let page = await s.agents.list({ limit: 2 });
      seen.push(...page.data.map((a) => a.id));
      while (page.next_page) {
        page = await s.agents.list({ limit: 2, cursor: decodeCursor(page.next_page) });
        seen.push(...page.data.map((a) => a.id));
      }
      assert.deepEqual(seen, newestFirst);

      const environment = await s.environments.create({ name: 'e' });
      const now = new Date().toISOString();
      const agent = await s.agents.retrieve(ids[0]!);
      for (const id of ['sesn_a', 'sesn_b', 'sesn_c']) {
        await s.sessions.create({
          id,
          definition: { agent: agentDefinitionOf(agent), environment: environmentDefinitionOf(environment) },
          agent: { ...agent, metadata: undefined } as never,
          environment_id: environment.id,
          title: null,
          metadata: {},
          created_at: now,
          updated_at: now,
          archived_at: null,
        });
      }
      const first = await s.sessions.listApiSessions({ limit: 2 });
      assert.deepEqual(first.data.map((x) => x.id), ['sesn_c', 'sesn_b'], 'same created_at: ordered by id');
      const second = await s.sessions.listApiSessions({ limit: 2, cursor: decodeCursor(first.next_page!) });
      assert.deepEqual([second.data.map((x) => x.id), second.next_page], [['sesn_a'], null]);
      const back = await s.sessions.listApiSessions({ limit: 2, cursor: decodeCursor(second.prev_page!) });
      assert.deepEqual([back.data.map((x) => x.id), back.prev_page], [['sesn_c', 'sesn_b'], null]);
    });

    test("a session's turn mark only grows, and leaves the rest of its record as it was", async () => {
      await using s = await open(openDriver);
      const agent = await s.agents.create(spec('a'));
      const environment = await s.environments.create({ name: 'e' });
      const created = '2026-12-01T00:00:00.000Z';
      await s.sessions.create({
        id: 'sesn_mark',
        definition: { agent: agentDefinitionOf(agent), environment: environmentDefinitionOf(environment) },
        agent: { ...agent, metadata: undefined } as never,
        environment_id: environment.id,
        title: 'kept',
        metadata: { k: 'v' },
        created_at: created,
        updated_at: created,
        archived_at: null,
      });
      const before = await s.sessions.retrieve('sesn_mark');
      await s.sessions.markTurnRequested('sesn_mark', 7);
      assert.equal((await s.sessions.retrieve('sesn_mark')).turn_requested_after_seq, 7);
      await s.sessions.markTurnRequested('sesn_mark', 3);
      assert.equal((await s.sessions.retrieve('sesn_mark')).turn_requested_after_seq, 7, 'an older mark does not lower it');
      await s.sessions.markTurnRequested('sesn_mark', 12);
      const after = await s.sessions.retrieve('sesn_mark');
      assert.deepEqual(after, { ...before, turn_requested_after_seq: 12 }, 'nothing else changed, updated_at included');
      await s.sessions.markDeleted('sesn_mark');
      await assert.rejects(s.sessions.markTurnRequested('sesn_mark', 13), /session sesn_mark not found/);
      await assert.rejects(s.sessions.markTurnRequested('sesn_none', 1), /session sesn_none not found/);
    });
  });
}
