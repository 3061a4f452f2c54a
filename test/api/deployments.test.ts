import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BadRequestError, ConflictError } from '@anthropic-ai/sdk';
import type { BetaManagedAgentsDeployment } from '@anthropic-ai/sdk/resources/beta/deployments';
import type { BetaManagedAgentsDeploymentRun } from '@anthropic-ai/sdk/resources/beta/deployment-runs';
import { ScheduleNotFoundError } from '@temporalio/client';
import type { Deployment, DeploymentRun } from '../../src/schemas/api-deployment.ts';
import { scheduleIdOf } from '../../src/deployments/deployment-schedules.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastUserText, reply, type ScriptFunction } from '../../src/testing/index.ts';
import { eventually } from '../support/eventually.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';

// Our response types must be assignable to the SDK's: a drift in a field fails typechecking.
const sdkShapes = {
  // Initial events are echoed as sent: the SDK's output type wants optional block fields present.
  deployment: (d: Deployment): BetaManagedAgentsDeployment => ({ ...d, initial_events: d.initial_events as BetaManagedAgentsDeployment['initial_events'] }),
  run: (r: DeploymentRun): BetaManagedAgentsDeploymentRun => r,
};
void sdkShapes;

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

/** The model answers each run's task by echoing it, so a run's result names its own initial event. */
const echo: ScriptFunction = (request) => reply(`report: ${lastUserText(request)}`);

/** The envelope's message, as the server wrote it (the SDK's own message is the JSON-encoded body). */
const messageOf = (error: unknown): string => (error as { error?: { error?: { message?: string } } }).error?.error?.message ?? String(error);

const task = (text: string) => [{ type: 'user.message' as const, content: [{ type: 'text' as const, text }] }];

async function agentAndEnvironment(f: ApiFixture) {
  const agent = await f.client.beta.agents.create({ name: 'Reporter', model: 'claude-sonnet-4-5' });
  const environment = await f.client.beta.environments.create({ name: 'deployments-env' });
  return { agent, environment };
}


/** The run's session's final agent message once it is idle at the end of its turn. */
async function resultOf(f: ApiFixture, sessionId: string): Promise<string> {
  return eventually(`session ${sessionId} to idle`, async () => {
    const events = await f.harness.store.listEvents(sessionId, { limit: 1000 });
    const idle = events.findLast((e) => e.event.type === 'session.status_idle');
    if (!idle) return undefined;
    const message = events.findLast((e) => e.event.type === 'agent.message')?.event as { content?: { text?: string }[] } | undefined;
    return message?.content?.map((b) => b.text ?? '').join('') ?? '';
  });
}

test('deployments: create, validate, retrieve, list, update, pause, unpause and archive, with the Schedule in step; upcoming runs across a DST change', async () => {
  await using f = await startApiFixture({ temporal, script: echo });
  const { client } = f;
  const { agent, environment } = await agentAndEnvironment(f);
  const base = { name: 'Morning report', agent: agent.id, environment_id: environment.id, initial_events: task('write the morning report') };

  // Bad input: a 400 naming the field.
  const refusals: [object, RegExp][] = [
    [{ schedule: { type: 'cron', expression: '0 25 * * *', timezone: 'UTC' } }, /schedule\.expression: hour field "25": 25 is outside 0–23/],
    [{ schedule: { type: 'cron', expression: '0 8 * *', timezone: 'UTC' } }, /schedule\.expression: expected 5 fields/],
    [{ schedule: { type: 'cron', expression: '0 8 L * *', timezone: 'UTC' } }, /schedule\.expression: day-of-month field "L".*not POSIX cron/],
    [{ schedule: { type: 'cron', expression: '0 8 * * 1-5', timezone: 'Mars/Olympus' } }, /schedule\.timezone: "Mars\/Olympus" is not an IANA timezone/],
    [{ schedule: { type: 'cron', expression: '0 8 * * 1-5', timezone: '+01:00' } }, /schedule\.timezone/],
    [{ initial_events: [] }, /initial_events: initial_events must hold at least one event/],
    [{ initial_events: [{ type: 'system.message', content: [{ type: 'text', text: 'x' }] }] }, /initial_events\.0\.type: system\.message must directly follow a user\.message/],
    [{ agent: { type: 'agent_with_overrides', id: agent.id, model: 'claude-opus-4-1' } }, /agent: agent_with_overrides is not allowed/],
    [{ vault_ids: ['vlt_missing'] }, /vault_ids\.0: vault vlt_missing not found/],
  ];
  for (const [change, message] of refusals) {
    await assert.rejects(client.beta.deployments.create({ ...base, ...change } as never), (error: unknown) => {
      assert.ok(error instanceof Error && 'status' in error && (error.status === 400 || error.status === 404), `${JSON.stringify(change)} → ${String(error)}`);
      assert.match(messageOf(error), message);
      return true;
    });
  }
  await assert.rejects(client.beta.deployments.create({ ...base, environment_id: 'env_missing' }), (error) => /environment_id: environment env_missing not found/.test(messageOf(error)));

  const created = await client.beta.deployments.create({
    ...base,
    description: 'weekday mornings',
    schedule: { type: 'cron', expression: '0 8 * * MON-FRI', timezone: 'Europe/Berlin' },
    metadata: { team: 'ops', keep: 'yes' },
  });
  assert.match(created.id, /^depl_011C[0-9A-Za-z]{20}$/);
  assert.equal(created.type, 'deployment');
  assert.equal(created.status, 'active');
  assert.equal(created.paused_reason, null);
  assert.deepEqual(created.agent, { type: 'agent', id: agent.id, version: 1 });
  assert.equal(created.schedule?.last_run_at, null);
  // The next five weekday mornings at 08:00 in Berlin, from the Schedule itself.
  const upcoming = created.schedule?.upcoming_runs_at ?? [];
  assert.equal(upcoming.length, 5);
  const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false });
  for (const at of upcoming) {
    const parts = Object.fromEntries(berlin.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
    assert.ok(['Mon', 'Tue', 'Wed', 'Thu', 'Fri'].includes(parts['weekday']!), `${at} is a ${parts['weekday']}`);
    assert.equal(`${parts['hour']}:${parts['minute']}`, '08:00', at);
  }
  assert.deepEqual([...upcoming].sort(), upcoming);

  // Across the 2027 spring change (28 March): 07:00 UTC before, 06:00 UTC after.
  const deployments = f.harness.deployments!;
  const around = await deployments.schedules.matchingTimes(created.id, new Date('2027-03-24T00:00:00Z'), new Date('2027-04-01T00:00:00Z'));
  assert.deepEqual(
    around.map((d) => d.toISOString()),
    ['2027-03-24T07:00:00.000Z', '2027-03-25T07:00:00.000Z', '2027-03-26T07:00:00.000Z', '2027-03-29T06:00:00.000Z', '2027-03-30T06:00:00.000Z', '2027-03-31T06:00:00.000Z'],
  );
  // POSIX: both day fields set means either matches (the 1st, or any Monday).
  const either = await client.beta.deployments.create({ ...base, name: 'either', schedule: { type: 'cron', expression: '30 6 1 * 1', timezone: 'UTC' } });
  const eitherTimes = await deployments.schedules.matchingTimes(either.id, new Date('2027-02-01T00:00:00Z'), new Date('2027-03-02T00:00:00Z'));
  assert.deepEqual(
    eitherTimes.map((d) => d.toISOString().slice(0, 10)),
    ['2027-02-01', '2027-02-08', '2027-02-15', '2027-02-22', '2027-03-01'],
  );

  assert.deepEqual(await client.beta.deployments.retrieve(created.id), created);
  const listed = [];
  for await (const d of client.beta.deployments.list({ agent_id: agent.id })) listed.push(d.id);
  assert.deepEqual(listed, [either.id, created.id]);

  // Update: lists replace, metadata patches; the Schedule follows.
  const updated = await client.beta.deployments.update(created.id, {
    name: 'Evening report',
    metadata: { team: null, owner: 'sam' },
    schedule: { type: 'cron', expression: '0 18 * * *', timezone: 'UTC' },
    initial_events: task('write the evening report'),
  });
  assert.equal(updated.name, 'Evening report');
  assert.deepEqual(updated.metadata, { keep: 'yes', owner: 'sam' });
  assert.ok(updated.schedule?.upcoming_runs_at?.every((at) => at.endsWith('T18:00:00.000Z')), JSON.stringify(updated.schedule));
  await assert.rejects(client.beta.deployments.update(created.id, { schedule: { type: 'cron', expression: '61 * * * *', timezone: 'UTC' } }), BadRequestError);

  // Pause: no upcoming runs, the Schedule paused in Temporal; unpause resumes it.
  const paused = await client.beta.deployments.pause(created.id);
  assert.equal(paused.status, 'paused');
  assert.deepEqual(paused.paused_reason, { type: 'manual' });
  assert.deepEqual(paused.schedule?.upcoming_runs_at, []);
  const handle = f.harness.client.schedule.getHandle(scheduleIdOf(created.id));
  assert.equal((await handle.describe()).state.paused, true);
  for await (const d of client.beta.deployments.list({ status: 'paused' })) assert.equal(d.id, created.id);
  const unpaused = await client.beta.deployments.unpause(created.id);
  assert.equal(unpaused.status, 'active');
  assert.equal(unpaused.paused_reason, null);
  assert.equal(unpaused.schedule?.upcoming_runs_at?.length, 5);
  assert.equal((await handle.describe()).state.paused, false);

  // schedule: null leaves it manual-only and removes the Schedule.
  const manual = await client.beta.deployments.update(either.id, { schedule: null });
  assert.equal(manual.schedule, null);
  await assert.rejects(f.harness.client.schedule.getHandle(scheduleIdOf(either.id)).describe(), ScheduleNotFoundError);

  // Archive removes the Schedule; archived deployments leave the list and refuse changes.
  const archived = await client.beta.deployments.archive(created.id);
  assert.ok(archived.archived_at);
  await assert.rejects(handle.describe(), ScheduleNotFoundError);
  const live = [];
  for await (const d of client.beta.deployments.list()) live.push(d.id);
  assert.deepEqual(live, [either.id]);
  const all = [];
  for await (const d of client.beta.deployments.list({ include_archived: true })) all.push(d.id);
  assert.deepEqual(all.sort(), [either.id, created.id].sort());
  await assert.rejects(client.beta.deployments.update(created.id, { name: 'again' }), ConflictError);
  await assert.rejects(client.beta.deployments.run(created.id), ConflictError);
});

test('runs: on demand and from the Schedule, each a session that ends with the initial events answered; listed with their filters', async () => {
  await using f = await startApiFixture({ temporal, script: echo });
  const { client } = f;
  const { agent, environment } = await agentAndEnvironment(f);
  const deployment = await client.beta.deployments.create({
    name: 'Hourly digest',
    agent: agent.id,
    environment_id: environment.id,
    initial_events: task('summarise the last hour'),
    schedule: { type: 'cron', expression: '0 * * * *', timezone: 'UTC' },
  });

  const manual = await client.beta.deployments.run(deployment.id);
  assert.match(manual.id, /^drun_011C/);
  assert.equal(manual.type, 'deployment_run');
  assert.equal(manual.deployment_id, deployment.id);
  assert.deepEqual(manual.trigger_context, { type: 'manual' });
  assert.equal(manual.error, null);
  assert.ok(manual.session_id);
  assert.equal(await resultOf(f, manual.session_id), 'report: summarise the last hour');
  const session = await client.beta.sessions.retrieve(manual.session_id);
  assert.deepEqual(session.metadata, { deployment_id: deployment.id, deployment_run_id: manual.id });
  assert.equal(session.deployment_id, deployment.id);
  const listed = await client.beta.sessions.list({ deployment_id: deployment.id });
  assert.deepEqual(listed.data.map((s) => s.id), [manual.session_id], 'sessions.list filters by the deployment');
  assert.deepEqual((await client.beta.sessions.list({ deployment_id: 'depl_none' })).data, []);
  // The run's workflow follows the session to its end, then ends too.
  await f.harness.client.workflow.getHandle(`${deployment.id}:manual-${manual.id}`).result();

  // A fire of the Schedule (triggered now rather than waited for): the worker creates the run.
  const before = Date.now();
  await f.harness.deployments!.schedules.trigger(deployment.id);
  const scheduled = await eventually('the scheduled run', async () => {
    const { data } = await client.beta.deploymentRuns.list({ deployment_id: deployment.id, trigger_type: 'schedule' });
    return data[0];
  });
  assert.equal(scheduled.trigger_context.type, 'schedule');
  const scheduledAt = scheduled.trigger_context.type === 'schedule' ? Date.parse(scheduled.trigger_context.scheduled_at) : 0;
  assert.ok(scheduledAt >= before - 1000 && scheduledAt <= Date.now(), scheduled.trigger_context.type === 'schedule' ? scheduled.trigger_context.scheduled_at : '');
  assert.equal(await resultOf(f, scheduled.session_id!), 'report: summarise the last hour');
  assert.deepEqual(await client.beta.deploymentRuns.retrieve(scheduled.id), scheduled);
  const withLast = await client.beta.deployments.retrieve(deployment.id);
  assert.equal(withLast.schedule?.last_run_at, scheduled.trigger_context.type === 'schedule' ? scheduled.trigger_context.scheduled_at : null);

  const byTrigger = async (trigger_type: 'manual' | 'schedule') => (await client.beta.deploymentRuns.list({ deployment_id: deployment.id, trigger_type })).data.map((r) => r.id);
  assert.deepEqual(await byTrigger('manual'), [manual.id]);
  assert.deepEqual(await byTrigger('schedule'), [scheduled.id]);
  assert.deepEqual((await client.beta.deploymentRuns.list({ has_error: true })).data, []);
  assert.deepEqual((await client.beta.deploymentRuns.list({ deployment_id: deployment.id })).data.map((r) => r.id), [scheduled.id, manual.id]);
  assert.deepEqual((await client.beta.deploymentRuns.list({ 'created_at[gt]': manual.created_at })).data.map((r) => r.id), [scheduled.id]);
  await assert.rejects(client.beta.deploymentRuns.list({ trigger_type: 'cron' as never }), BadRequestError);
  await assert.rejects(client.beta.deploymentRuns.retrieve('drun_missing'), (error) => messageOf(error) === 'deployment run drun_missing not found');
});

test('a run whose agent was archived records agent_archived_error and pauses the deployment with that reason', async () => {
  await using f = await startApiFixture({ temporal, script: echo });
  const { client } = f;
  const { agent, environment } = await agentAndEnvironment(f);
  const deployment = await client.beta.deployments.create({
    name: 'Nightly',
    agent: agent.id,
    environment_id: environment.id,
    initial_events: task('nightly check'),
    schedule: { type: 'cron', expression: '0 3 * * *', timezone: 'America/New_York' },
  });
  await client.beta.agents.archive(agent.id);

  await f.harness.deployments!.schedules.trigger(deployment.id);
  const failed = await eventually('the failed run', async () => (await client.beta.deploymentRuns.list({ deployment_id: deployment.id, has_error: true })).data[0]);
  assert.equal(failed.session_id, null);
  assert.equal(failed.error?.type, 'agent_archived_error');
  assert.match(failed.error?.message ?? '', /agent .* is archived/);
  const paused = await eventually('the deployment to pause', async () => {
    const d = await client.beta.deployments.retrieve(deployment.id);
    return d.status === 'paused' ? d : undefined;
  });
  assert.deepEqual(paused.paused_reason, { type: 'error', error: { type: 'agent_archived_error' } });
  assert.deepEqual(paused.schedule?.upcoming_runs_at, []);
  assert.equal((await f.harness.client.schedule.getHandle(scheduleIdOf(deployment.id)).describe()).state.paused, true);

  // A manual run meets the same error and says so in the run it returns.
  const manual = await client.beta.deployments.run(deployment.id);
  assert.equal(manual.error?.type, 'agent_archived_error');
  assert.equal(manual.session_id, null);
});

test('real clock: a `* * * * *` deployment fires by itself while the API server is down; paused, it does not fire; unpaused, it fires again', async () => {
  await using f = await startApiFixture({ temporal, script: echo });
  const { client } = f;
  const { agent, environment } = await agentAndEnvironment(f);
  const deployment = await client.beta.deployments.create({
    name: 'Every minute',
    agent: agent.id,
    environment_id: environment.id,
    initial_events: task('tick'),
    schedule: { type: 'cron', expression: '* * * * *', timezone: 'UTC' },
  });
  const service = f.harness.deployments!;
  // Only Temporal and the worker from here: the run must not need the API.
  await f.api.close();

  const run = await eventually('the first minute fire', async () => (await service.listRuns({ limit: 10, deploymentId: deployment.id })).data[0], { timeoutMs: 75_000 });
  assert.equal(run.trigger_context.type, 'schedule');
  assert.match(run.trigger_context.type === 'schedule' ? run.trigger_context.scheduled_at : '', /T\d{2}:\d{2}:00\.000Z$/);
  assert.equal(await resultOf(f, run.session_id!), 'report: tick');

  await service.pause(deployment.id);
  const pausedAt = Date.now();
  const nextMinute = Math.ceil(pausedAt / 60_000) * 60_000;
  await new Promise((resolve) => setTimeout(resolve, nextMinute - pausedAt + 5_000));
  const { data: afterPause } = await service.listRuns({ limit: 10, deploymentId: deployment.id });
  assert.deepEqual(afterPause.map((r) => r.id), [run.id], 'no run while paused');

  const unpaused = await service.unpause(deployment.id);
  assert.equal(unpaused.schedule?.upcoming_runs_at?.length, 5);
  assert.ok(Date.parse(unpaused.schedule!.upcoming_runs_at![0]!) - Date.now() <= 60_000);
  // Unpaused, it fires again at the next minute by itself.
  const next = await eventually('the fire after unpausing', async () => (await service.listRuns({ limit: 10, deploymentId: deployment.id })).data.find((r) => r.id !== run.id), { timeoutMs: 75_000 });
  assert.equal(next.trigger_context.type === 'schedule' && next.trigger_context.scheduled_at, unpaused.schedule!.upcoming_runs_at![0]);
  assert.equal(await resultOf(f, next.session_id!), 'report: tick');
});
