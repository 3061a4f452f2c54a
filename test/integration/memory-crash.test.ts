import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MEMORY_MOUNT_ROOT } from '../../src/schemas/api-memory.ts';
import { newId } from '../../src/store/ids.ts';
import { openApiStores } from '../../src/store/open-api-stores.ts';
import { openPostgresDriver } from '../../src/store/postgres-driver.ts';
import { text, toolUse, type ScriptFunction } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness } from '../support/harness.ts';
import { crashServers } from '../support/crash-servers.ts';
import { kill9 } from '../support/worker-processes.ts';

const agent = { name: 'rememberer', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };
const tuning = { modelHeartbeatTimeoutMs: 3000, toolHeartbeatTimeoutMs: 3000 };

const servers = crashServers();

test('kill -9 of the worker right after the agent wrote to its memory: a new worker commits the write, once, as the session', async () => {
  const script: ScriptFunction = (_request, { callIndex }) => {
    if (callIndex === 0) {
      // The file is written at once; the worker dies while the call still sleeps, before any commit.
      return { content: [toolUse('bash', { command: `printf 'remember this' > ${MEMORY_MOUNT_ROOT}/journal/entry.md; sleep 4; echo slept` })] };
    }
    return { content: [text('saved')] };
  };
  const driver = await openPostgresDriver({ url: servers.postgres.url });
  await using h = await startHarness({ temporal: servers.temporal, script, worker: false, postgresUrl: servers.postgres.url });
  const stores = await openApiStores(driver);
  let worker = await servers.startWorker(h);
  try {
    const journal = await stores.memories.create({ name: 'journal' });
    const id = newId('sesn');
    await stores.sessionMemory.attach(id, [
      { type: 'memory_store', memory_store_id: journal.id, access: 'read_write', name: 'journal', description: '', instructions: null, mount_path: `${MEMORY_MOUNT_ROOT}/journal` },
    ]);
    const session = await h.longhaul.sessions.create({ id, agent, tuning, events: [{ type: 'user.message', content: [{ type: 'text', text: 'note it' }] }] });

    await collectEvents(h.longhaul, session.id, (e) => e.type === 'agent.tool_use');
    await new Promise((r) => setTimeout(r, 1500));
    await kill9(worker);
    assert.deepEqual((await stores.memories.listVersions(journal.id, { limit: 10, withContent: false })).data, [], 'nothing was committed before the crash');
    worker = await servers.startWorker(h);

    const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
    const results = events.flatMap((e) => (e.type === 'agent.tool_result' ? [(e.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('').trim()] : []));
    assert.deepEqual(results, ['slept'], 'the call ran once and its result was picked up by the new worker');
    const versions = (await stores.memories.listVersions(journal.id, { limit: 10, withContent: false })).data;
    assert.deepEqual(
      versions.map((v) => [v.operation, v.path, v.created_by]),
      [['created', '/entry.md', { type: 'session_actor', session_id: session.id }]],
      'one version: not lost, not duplicated',
    );
    const [memory] = (await stores.memories.listMemories(journal.id, { limit: 10, withContent: true })).data;
    assert.equal(memory && 'content' in memory ? memory.content : undefined, 'remember this');
    await assertGaplessLog(h.store, session.id);
  } finally {
    await kill9(worker).catch(() => {});
    await driver.close();
  }
});
