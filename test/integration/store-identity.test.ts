/**
 * Two engines on one Temporal namespace and task queue (a deployment mistake) must not
 * run each other's sessions against the wrong store: the worker refuses, loudly, work
 * whose session carries another store's identity, and writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Longhaul } from '../../src/client/longhaul.ts';
import { openPgliteDriver } from '../../src/store/pglite-driver.ts';
import { SessionStore } from '../../src/store/session-store.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript, QUICKSTART_TASK, userMessage } from '../../src/testing/index.ts';
import { capturingOutput } from '../support/capture-output.ts';
import { startHarness, startTestTemporal } from '../support/harness.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal?.stop();
});

const agent = { name: 'coder', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };

test('every store has its own identity', async () => {
  await using a = await SessionStore.open(await openPgliteDriver());
  await using b = await SessionStore.open(await openPgliteDriver());
  assert.match(a.storeId, /^store_[0-9a-f]{32}$/);
  assert.notEqual(a.storeId, b.storeId);
});

test("a worker refuses a session of another store, loudly, and writes nothing into its own", async () => {
  await using h = await startHarness({ temporal, script: demoAgentScript });
  // The second engine: its own store, the first one's Temporal and task queue.
  await using otherStore = await SessionStore.open(await openPgliteDriver());
  const other = new Longhaul({ client: h.client, store: otherStore, taskQueue: h.taskQueue });
  const { output, result: session } = await capturingOutput(async () => {
    const created = await other.sessions.create({ agent, events: [userMessage(QUICKSTART_TASK)] });
    // Let the worker pick up (and refuse) the session's first activities.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const history = await h.client.workflow.getHandle(created.id).fetchHistory();
      if (JSON.stringify(history).includes('StoreMismatch')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return created;
  });
  try {
    assert.match(output, new RegExp(`refused \\S+ of session ${session.id}: it belongs to store ${otherStore.storeId}, this worker serves store ${h.store.storeId}`));
    assert.deepEqual(await h.store.listEvents(session.id, { limit: 100 }), [], 'the worker wrote into its own store');
    assert.equal(h.model.requests.length, 0, 'the model was called for a session of another store');
  } finally {
    await h.client.workflow.getHandle(session.id).terminate('test over').catch(() => undefined);
  }
});
