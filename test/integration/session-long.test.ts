import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { text, toolUse } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness, startTestTemporal } from '../support/harness.ts';

const STEPS = Number(process.env['LONGHAUL_TEST_LONG_STEPS'] ?? 500);
// Low enough that the run continues as new several times: eight steps share an activity, so 500 steps make about 60 of them.
const MAX_HISTORY_EVENTS = 250;

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

test(`a ${STEPS}-step session with 20 KB tool outputs completes; each run's history stays small and grows per step, not per transcript`, async () => {
  let largestRequestBytes = 0;
  await using h = await startHarness({
    temporal,
    script: (request, { callIndex }) => {
      largestRequestBytes = Math.max(largestRequestBytes, JSON.stringify(request).length);
      return callIndex < STEPS ? { content: [toolUse('bash', { command: `head -c 20000 /dev/zero | tr '\\0' x; echo ' step ${callIndex}'` })] } : { content: [text('done')] };
    },
  });
  const session = await h.longhaul.sessions.create({
    agent: { model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] },
    events: [{ type: 'user.message', content: [{ type: 'text', text: 'produce a lot of output' }] }],
    tuning: { maxHistoryEvents: MAX_HISTORY_EVENTS },
  });
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 15 * 60_000 });
  assert.deepEqual(events.at(-1)?.type === 'session.status_idle' ? events.at(-1) : undefined, { ...events.at(-1), stop_reason: { type: 'end_turn' } });
  assert.equal(events.filter((e) => e.type === 'agent.tool_result').length, STEPS);
  const last = events.findLast((e) => e.type === 'agent.tool_result');
  assert.ok(last?.type === 'agent.tool_result' && JSON.stringify(last.content).includes(`step ${STEPS - 1}`));
  await assertGaplessLog(h.store, session.id);
  h.model.assertNoUnscriptedCalls();

  const runs = [];
  for await (const run of h.client.workflow.list({ query: `WorkflowId = '${session.id}'` })) runs.push(run);
  runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
  const report = runs.map((r) => ({ status: r.status.name, events: r.historyLength, bytes: r.historySize ?? 0 }));
  process.stderr.write(`history per run: ${JSON.stringify(report)}; largest model request ${largestRequestBytes} bytes\n`);

  assert.ok(runs.length >= 2, `continued as new (runs: ${runs.length})`);
  for (const run of report) {
    // Continue-as-new happens at the first step boundary past the threshold: one step's worth of slack.
    assert.ok(run.events <= MAX_HISTORY_EVENTS + 40, `run history ${run.events} events`);
    assert.ok(run.bytes < 2 * 1024 * 1024, `run history ${run.bytes} bytes, far under the 50 MB limit`);
  }
  // Bytes per history event are flat from the first run to the last: history carries
  // references and summaries, never the growing transcript or the 20 KB outputs.
  const perEvent = report.filter((r) => r.events > 100).map((r) => r.bytes / r.events);
  assert.ok(Math.max(...perEvent) < 1.3 * Math.min(...perEvent), `bytes per event ${perEvent.map((b) => b.toFixed(0)).join(', ')}`);
  assert.ok(Math.max(...perEvent) < 1024, 'no 20 KB payload in history');
  // The request to the model stays within the context budget however long the session runs.
  assert.ok(largestRequestBytes < 800_000, `largest request ${largestRequestBytes} bytes`);
});
