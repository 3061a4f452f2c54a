import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import type { SessionEvent } from '../../src/schemas/events.ts';
import { text, toolUse, userMessage, type ScriptedTurn } from '../../src/testing/index.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness, startTestTemporal } from '../support/harness.ts';
import { statusQuery } from '../../workflows/contract.ts';
import { createLonghaulActivities } from '../../src/worker/longhaul-activities.ts';

// A model call goes on to the next steps itself while nothing needs the workflow
// (`stepsPerActivity`): fewer activities and workflow tasks per step, and the same log.

const agent = { name: 'coder', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

/** Eight quick bash steps, then the answer. */
const eightSteps: ScriptedTurn[] = [
  ...Array.from({ length: 8 }, (_, i) => ({ content: [toolUse('bash', { command: `echo step-${i}` })] })),
  { content: [text('all eight done')] },
];

/** How many `callModel` activities the session's workflow scheduled. */
async function modelActivities(client: Client, sessionId: string): Promise<number> {
  return (await callModelKeys(client, sessionId)).length;
}

/** The log as a client compares it: types, and each event's content without ids or times. */
function shape(events: readonly SessionEvent[]): unknown[] {
  return events.map((e) => {
    const { id: _id, processed_at: _at, ...rest } = e as SessionEvent & { processed_at?: string };
    const fields = rest as Record<string, unknown>;
    // Ids of other events and tool calls differ between sessions; what they point at does not.
    for (const key of ['tool_use_id', 'model_request_start_id']) if (key in fields) fields[key] = typeof fields[key];
    if (e.type === 'agent.tool_use' && 'input' in fields) return { type: e.type, input: fields['input'] };
    if (e.type === 'span.model_request_end' || e.type === 'span.model_request_start') return { type: e.type };
    return fields;
  });
}

test('a run of tool steps takes one model-call activity per stepsPerActivity steps, and logs what one activity per step logs', async () => {
  await using h = await startHarness({ temporal, script: [...eightSteps, ...eightSteps] });
  const one = await h.longhaul.sessions.create({ agent, events: [userMessage('eight steps')], tuning: { stepsPerActivity: 1 } });
  const oneEvents = await collectEvents(h.longhaul, one.id, isIdle);
  const four = await h.longhaul.sessions.create({ agent, events: [userMessage('eight steps')], tuning: { stepsPerActivity: 4 } });
  const fourEvents = await collectEvents(h.longhaul, four.id, isIdle);

  assert.deepEqual(shape(fourEvents), shape(oneEvents));
  assert.equal(fourEvents.filter((e) => e.type === 'agent.tool_result').length, 8);
  assert.equal(await modelActivities(h.client, one.id), 9);
  // Steps 1–4, 5–8, then the answer.
  assert.equal(await modelActivities(h.client, four.id), 3);
  for (const id of [one.id, four.id]) {
    const status = await h.client.workflow.getHandle(id).query(statusQuery);
    assert.equal(status.totalSteps, 9, 'every step counted by the workflow');
    assert.ok(status.usage.input_tokens > 0);
  }
  const oneStatus = await h.client.workflow.getHandle(one.id).query(statusQuery);
  const fourStatus = await h.client.workflow.getHandle(four.id).query(statusQuery);
  assert.deepEqual(fourStatus.usage, oneStatus.usage, 'the same usage, however the steps were grouped');
  assert.equal(fourStatus.costNanos, oneStatus.costNanos);
  await assertGaplessLog(h.store, four.id);
  h.model.assertNoUnscriptedCalls();
});

test('a later step of a run that fails is the next activity\'s first: retried once, its attempts numbered on', async () => {
  await using h = await startHarness({
    temporal,
    script: [
      { content: [toolUse('bash', { command: 'echo one' })] },
      { fault: 'overloaded' },
      { content: [toolUse('bash', { command: 'echo two' })] },
      { content: [text('done')] },
    ],
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('go')] });
  const events = await collectEvents(h.longhaul, session.id, isIdle);
  const types = events.map((e) => e.type);
  assert.deepEqual(
    types.filter((t) => t === 'span.model_request_start' || t === 'span.model_request_end' || t === 'session.error' || t === 'agent.tool_result'),
    [
      'span.model_request_start', 'span.model_request_end', 'agent.tool_result',
      // The failed attempt, then its retry in the next activity.
      'span.model_request_start', 'span.model_request_end', 'session.error',
      'span.model_request_start', 'span.model_request_end', 'agent.tool_result',
      'span.model_request_start', 'span.model_request_end',
    ],
  );
  const error = events.find((e) => e.type === 'session.error');
  assert.equal(error?.type === 'session.error' && error.error.retry_status.type, 'retrying');
  // Step 1 and the failed step 2; step 2 again with step 3; the answer went on in the same activity.
  assert.equal(await modelActivities(h.client, session.id), 2);
  const status = await h.client.workflow.getHandle(session.id).query(statusQuery);
  assert.equal(status.totalSteps, 3);
  const idle = events.at(-1);
  assert.deepEqual(idle?.type === 'session.status_idle' && idle.stop_reason, { type: 'end_turn' });
  await assertGaplessLog(h.store, session.id);
  h.model.assertNoUnscriptedCalls();
});

test('an interrupt in a later step of a run ends the turn at once; the steps made count, and the next turn sees them', async () => {
  await using h = await startHarness({
    temporal,
    script: (request, { callIndex }) => {
      if (callIndex < 2) return { content: [toolUse('bash', { command: `echo quick-${callIndex}` })] };
      if (callIndex === 2) return { content: [toolUse('bash', { command: 'sleep 60' })] };
      if (callIndex === 3) {
        const sent = JSON.stringify(request.messages);
        assert.match(sent, /quick-1/);
        assert.match(sent, /what happened\?/);
        return { content: [text('you stopped me')] };
      }
      return undefined;
    },
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('work')] });
  let seen = 0;
  await collectEvents(h.longhaul, session.id, (e) => e.type === 'agent.tool_use' && ++seen === 3);
  const startedAt = Date.now();
  await h.longhaul.interrupt(session.id);
  const turn = await collectEvents(h.longhaul, session.id, isIdle);
  assert.ok(Date.now() - startedAt < 20_000, 'the sleep was killed, not waited for');
  const results = turn.filter((e) => e.type === 'agent.tool_result');
  assert.equal(results.length, 3, 'each call has its result, the interrupted one too');
  assert.equal(await modelActivities(h.client, session.id), 1, 'all three steps ran in one activity');
  const status = await h.client.workflow.getHandle(session.id).query(statusQuery);
  assert.equal(status.totalSteps, 3, 'the steps the activity made are counted');

  await h.longhaul.events.send(session.id, [userMessage('what happened?')]);
  const next = await collectEvents(h.longhaul, session.id, isIdle, { after: turn.at(-1)!.id });
  assert.ok(next.some((e) => e.type === 'agent.message'));
  assert.equal(h.model.callCount, 4);
  h.model.assertNoUnscriptedCalls();
  await assertGaplessLog(h.store, session.id);
});

test('a yield asked on a worker that does not run the call reaches it through the store: the run ends after the step it is on', async () => {
  await using h = await startHarness({
    temporal,
    script: [...Array.from({ length: 16 }, (_, i) => ({ content: [toolUse('bash', { command: `sleep 0.4; echo ${i}` })] })), { content: [text('done')] }],
  });
  // Another worker's activities on the same store (not polling: its yieldSteps is called here).
  const elsewhere = createLonghaulActivities({ store: h.store, sandboxes: h.sandboxes }) as unknown as { yieldSteps(input: { logId: string; callKey: string }): Promise<void> };
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('go')], tuning: { stepsPerActivity: 8 } });
  await collectEvents(h.longhaul, session.id, (_e, all) => all.filter((e) => e.type === 'agent.tool_use').length === 2);
  const [running] = await callModelKeys(h.client, session.id);
  await elsewhere.yieldSteps({ logId: session.id, callKey: running! });
  // The run ends after the step it is on: the next activity starts within a step or two, not after the eighth.
  while ((await callModelKeys(h.client, session.id)).length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
  const toolUsesWhenItEnded = (await h.store.listEvents(session.id, { types: ['agent.tool_use'] })).length;
  assert.ok(toolUsesWhenItEnded <= 4, `the run took ${toolUsesWhenItEnded} steps`);
  const events = await collectEvents(h.longhaul, session.id, isIdle, { timeoutMs: 60_000 });
  assert.equal(events.filter((e) => e.type === 'agent.tool_result').length, 16);
  await assertGaplessLog(h.store, session.id);
});

/** The first call keys of the session's `callModel` activities, in the order they were scheduled. */
async function callModelKeys(client: Client, sessionId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(sessionId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name !== 'callModel') return [];
    const [payload] = scheduled.input?.payloads ?? [];
    return [(JSON.parse(Buffer.from(payload!.data!).toString()) as { callKey: string }).callKey];
  });
}
