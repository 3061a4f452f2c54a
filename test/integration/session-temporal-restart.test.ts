import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { startDevServer } from '../../src/temporal/dev-server.ts';
import { text, toolUse } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness } from '../support/harness.ts';
import { freePort } from '../../src/net/free-port.ts';

test('the Temporal server restarts (persistent dev server) in the middle of a tool call: the session finishes, nothing lost or duplicated', async () => {
  const dir = mkdtempSync('/tmp/longhaul-temporal-');
  const port = await freePort();
  const dbFile = `${dir}/temporal.db`;
  // No UI: a UI port picked here could be taken by another test's server before this one binds it.
  const options = { port, dbFile, extraArgs: ['--headless'] };
  let temporal = await startDevServer(options);
  try {
    await using h = await startHarness({
      temporal,
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
    await temporal.stop();
    await new Promise((r) => setTimeout(r, 1000));
    temporal = await startDevServer(options);

    const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 120_000 });
    const outputs = events.flatMap((e) => (e.type === 'agent.tool_result' ? [(e.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('').trim()] : []));
    // On failure, what the session did says more than the one field that differs.
    const seen = events.map((e) => e.type).join(' ');
    assert.deepEqual(outputs, ['slept', '1'], `the first tool ran once and its result survived the restart; events: ${seen}`);
    assert.deepEqual(events.at(-1)?.type === 'session.status_idle' ? events.at(-1) : undefined, { ...events.at(-1), stop_reason: { type: 'end_turn' } }, `events: ${seen}`);
    await assertGaplessLog(h.store, session.id);
  } finally {
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
