/**
 * On a real Temporal server (its own binary on PostgreSQL, four history shards), not the
 * CLI's dev server: the shape a production cluster has. The store is PostgreSQL too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { text, toolUse } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness } from '../support/harness.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { startRealTemporal, type RealTemporal } from '../support/temporal-server.ts';

let postgres: TestPostgres;
let temporal: RealTemporal;

before(async () => {
  postgres = await startPostgres();
  temporal = await startRealTemporal(postgres);
});

after(async () => {
  await temporal?.stop();
  await postgres?.stop();
});

test('a session runs on a real Temporal server, and survives a kill -9 of that server in the middle of a tool call: nothing lost, nothing run twice', async () => {
  await using h = await startHarness({
    temporal,
    postgresUrl: await postgres.createDatabase(),
    script: [
      { content: [toolUse('bash', { command: 'echo ran >> /workspace/runs.txt; sleep 5; echo slept' })] },
      { content: [toolUse('bash', { command: 'wc -l < /workspace/runs.txt' })] },
      { content: [text('finished')] },
    ],
  });
  const session = await h.longhaul.sessions.create({
    agent: { model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] },
    events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }],
    tuning: { toolHeartbeatTimeoutMs: 5000, modelHeartbeatTimeoutMs: 5000 },
  });
  await collectEvents(h.longhaul, session.id, (e) => e.type === 'agent.tool_use');
  await temporal.crashAndRestart();

  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
  const outputs = events.flatMap((e) => (e.type === 'agent.tool_result' ? [(e.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('').trim()] : []));
  assert.deepEqual(outputs, ['slept', '1'], 'the first tool ran once and its result survived the crash');
  const last = events.at(-1);
  assert.equal(last?.type === 'session.status_idle' ? last.stop_reason?.type : undefined, 'end_turn');
  await assertGaplessLog(h.store, session.id);
});
