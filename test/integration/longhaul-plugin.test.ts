import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastUserText, text } from '../../src/testing/index.ts';
import { LonghaulPlugin } from '../../src/index.ts';
import { createHostActivities } from '../fixtures/plugin-host/activities.ts';
import type { reviewTicketWorkflow } from '../fixtures/plugin-host/workflows.ts';
import { assertGaplessLog, startHarness, startTestTemporal } from '../support/harness.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

test('an existing worker with its own workflow, plus the plugin, runs a session started from that workflow and returns the agent\'s result to it', async () => {
  const answer = 'Looks good: the ticket is clear and small.';
  // No Longhaul worker of the harness's own: the team's worker, with the plugin, runs everything.
  await using h = await startHarness({ temporal, worker: false, script: [{ content: [text(answer)], usage: { input_tokens: 40, output_tokens: 9 } }] });
  const filed = new Map<string, string>();
  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await Worker.create({
    connection,
    taskQueue: h.taskQueue,
    workflowsPath: fileURLToPath(new URL('../fixtures/plugin-host/workflows.ts', import.meta.url)),
    activities: createHostActivities({ filed }),
    plugins: [new LonghaulPlugin({ store: h.store, sandboxes: h.sandboxes, anthropic: new Anthropic({ baseURL: h.model.url, apiKey: 'test-key' }), heartbeatEveryMs: 200 })],
  });
  let sessionId: string | undefined;
  try {
    const workflowId = `review-${process.pid}`;
    const result = await worker.runUntil(
      h.client.workflow.execute<typeof reviewTicketWorkflow>('reviewTicketWorkflow', { taskQueue: h.taskQueue, workflowId, args: [{ ticketId: 'T-1' }] }),
    );
    sessionId = result.sessionId;

    // The agent's answer came back to the team's workflow, which went on with its own activity.
    assert.deepEqual(result, { filed: 'filed review of T-1', sessionId, stopReason: 'end_turn', outputTokens: 9 });
    assert.equal(filed.get('T-1'), answer);
    assert.equal(lastUserText(h.model.calls[0]!.body), 'Review ticket T-1: title of T-1');

    // It was an ordinary Longhaul session, a child of the team's workflow, ended with its turn.
    const session = await h.longhaul.sessions.retrieve(sessionId);
    assert.equal(session.title, 'review of T-1');
    assert.equal(session.status, 'terminated');
    const described = await h.client.workflow.getHandle(sessionId).describe();
    assert.equal(described.parentExecution?.workflowId, workflowId);
    const types = (await assertGaplessLog(h.store, sessionId)).map((e) => e.type);
    assert.deepEqual(types.filter((t) => t.startsWith('session.status_') || t === 'agent.message'), ['session.status_running', 'agent.message', 'session.status_idle', 'session.status_terminated']);
  } finally {
    await connection.close();
    if (sessionId) await h.sandboxes.destroy(sessionId, { removeVolume: true }).catch(() => {});
  }
});
