import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Anthropic, { AuthenticationError, BadRequestError, PermissionDeniedError, PreconditionFailedError, toFile } from '@anthropic-ai/sdk';
import type { BetaManagedAgentsSessionEvent } from '@anthropic-ai/sdk/resources/beta/sessions/events';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastToolResults, text, toolUse, type ScriptFunction } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

/** The scripted agent: each user message's label picks a plan of tool calls, one per step, then an answer quoting the results. */
const PLANS: Record<string, ReturnType<typeof toolUse>[]> = {
  files: [
    toolUse('write', { file_path: 'notes.txt', content: 'written by the agent\n' }),
    toolUse('bash', { command: 'cat notes.txt; echo "ran in $(pwd)" > proof.txt' }),
    toolUse('read', { file_path: 'proof.txt' }),
  ],
  // The first run sleeps (and is killed with its worker); the run on the second worker returns at once.
  killed: [toolUse('bash', { command: 'if [ -e started.txt ]; then echo "second worker"; else touch started.txt; sleep 120; fi' })],
  lease: [toolUse('bash', { command: 'echo answered' })],
  delegate: [toolUse('delegate_to_agent', { agent: 'specialist', message: 'specialist-task' })],
  skill: [toolUse('bash', { command: 'cat skills/greeter/SKILL.md | head -3; bash skills/greeter/greet.sh worker' })],
  'specialist-task': [toolUse('bash', { command: 'echo from the specialist > specialist.txt; cat specialist.txt' })],
};

const script: ScriptFunction = (request) => {
  const first = request.messages.find((m) => m.role === 'user');
  const label = typeof first?.content === 'string' ? first.content : first?.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  const plan = PLANS[label ?? ''] ?? [];
  const step = request.messages.filter((m) => m.role === 'assistant').length;
  if (step < plan.length) return { content: [plan[step]!] };
  return { content: [text(`done: ${lastToolResults(request).map((r) => r.text.trim()).join(' | ')}`)] };
};

async function selfHostedSetup(f: ApiFixture, name: string) {
  const environment = await f.client.beta.environments.create({ name, config: { type: 'self_hosted' } });
  const environmentKey = (environment as typeof environment & { environment_key?: string }).environment_key;
  assert.equal(typeof environmentKey, 'string', 'a self-hosted environment is created with its workers\' key');
  assert.deepEqual(environment.config, { type: 'self_hosted' });
  // Shown once: retrieving the environment does not show it again.
  assert.equal('environment_key' in (await f.client.beta.environments.retrieve(environment.id)), false);
  const agent = await f.client.beta.agents.create({ name: 'remote', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  return { environment, environmentKey: environmentKey!, agent };
}

/** A client as a self-hosted worker holds it: the environment key, nothing else. */
const workerClient = (f: ApiFixture, environmentKey: string) => new Anthropic({ baseURL: f.api.url, authToken: environmentKey, apiKey: null, maxRetries: 2 });

/** Runs `body` while the SDK's own worker serves the environment from a new temporary folder (given to `body`). */
async function withWorker<T>(f: ApiFixture, environmentId: string, environmentKey: string, body: (workdir: string) => Promise<T>): Promise<T> {
  const workdir = mkdtempSync(join(tmpdir(), 'longhaul-self-hosted-'));
  const stop = new AbortController();
  const running = workerClient(f, environmentKey).beta.environments.work.worker({ environmentId, environmentKey, workdir, maxIdleMs: 1000 }).run(stop.signal);
  try {
    return await body(workdir);
  } finally {
    stop.abort();
    await running.catch(() => {});
    rmSync(workdir, { recursive: true, force: true });
  }
}

async function waitForIdle(f: ApiFixture, sessionId: string, timeoutMs = 60_000): Promise<BetaManagedAgentsSessionEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events: BetaManagedAgentsSessionEvent[] = [];
    for await (const event of f.client.beta.sessions.events.list(sessionId, { limit: 100 })) events.push(event);
    const last = events.findLast((e) => e.type === 'session.status_idle' || e.type === 'session.status_running');
    if (last?.type === 'session.status_idle') return events;
    if (Date.now() > deadline) throw new Error(`session ${sessionId} did not go idle; events: ${events.map((e) => e.type).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const resultText = (event: BetaManagedAgentsSessionEvent | undefined) =>
  event?.type === 'user.tool_result' ? (event.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('') : undefined;

test("a self-hosted environment: the SDK's own worker runs the agent's bash and file tools in its folder", async () => {
  await using f = await startApiFixture({ temporal, script, workLeaseTtlSeconds: 6 });
  const { environment, environmentKey, agent } = await selfHostedSetup(f, 'laptop');
  await withWorker(f, environment.id, environmentKey, async (workdir) => {
    const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'files' }] }] });
    const events = await waitForIdle(f, session.id);
    const idle = events.findLast((e) => e.type === 'session.status_idle');
    assert.deepEqual(idle?.type === 'session.status_idle' && idle.stop_reason, { type: 'end_turn' });

    // Every call ran on the worker: answered by user.tool_result, never by Longhaul's sandbox.
    const uses = events.filter((e) => e.type === 'agent.tool_use');
    assert.deepEqual(uses.map((e) => e.type === 'agent.tool_use' && e.name), ['write', 'bash', 'read']);
    assert.equal(events.filter((e) => e.type === 'agent.tool_result').length, 0);
    const results = uses.map((use) => events.find((e) => e.type === 'user.tool_result' && e.tool_use_id === use.id));
    assert.match(resultText(results[1]) ?? '', /written by the agent/);
    assert.match(resultText(results[2]) ?? '', new RegExp(`ran in ${workdir}`));
    // The files are on this machine, in the worker's folder.
    assert.equal(readFileSync(join(workdir, 'notes.txt'), 'utf8'), 'written by the agent\n');
    assert.match(readFileSync(join(workdir, 'proof.txt'), 'utf8'), new RegExp(`ran in ${workdir}`));
    const answer = events.findLast((e) => e.type === 'agent.message');
    assert.match(answer?.type === 'agent.message' ? answer.content.map((b) => (b.type === 'text' ? b.text : '')).join('') : '', new RegExp(`done: ran in ${workdir}`));
  });
});

test('a worker killed mid-call loses its lease; a second worker takes the item and the call is answered once', async () => {
  await using f = await startApiFixture({ temporal, script, workLeaseTtlSeconds: 3 });
  const { environment, environmentKey, agent } = await selfHostedSetup(f, 'fleet');
  const workdir = mkdtempSync(join(tmpdir(), 'longhaul-self-hosted-'));
  const child = spawn(process.execPath, ['test/support/self-hosted-worker.ts'], {
    env: { ...process.env, LONGHAUL_URL: f.api.url, ENVIRONMENT_ID: environment.id, ENVIRONMENT_KEY: environmentKey, WORKDIR: workdir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let childErr = '';
  child.stderr.on('data', (chunk: Buffer) => (childErr += chunk.toString()));
  const stop = new AbortController();
  let second: Promise<void> | undefined;
  try {
    const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'killed' }] }] });
    // The first worker is inside the call: it made the marker and sleeps.
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(workdir, 'started.txt'))) {
      if (Date.now() > deadline) throw new Error(`the first worker never started the call; its stderr: ${childErr.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Killed with everything it started, with no chance to stop its item.
    process.kill(-child.pid!, 'SIGKILL');
    second = workerClient(f, environmentKey).beta.environments.work.worker({ environmentId: environment.id, environmentKey, workdir, maxIdleMs: 1000 }).run(stop.signal);
    const events = await waitForIdle(f, session.id, 90_000);
    const use = events.find((e) => e.type === 'agent.tool_use');
    const answers = events.filter((e) => e.type === 'user.tool_result' && e.tool_use_id === use?.id);
    assert.equal(answers.length, 1, 'the call is answered once');
    assert.equal(resultText(answers[0])?.trim(), 'second worker');
    const idle = events.findLast((e) => e.type === 'session.status_idle');
    assert.deepEqual(idle?.type === 'session.status_idle' && idle.stop_reason, { type: 'end_turn' });
  } finally {
    stop.abort();
    await second?.catch(() => {});
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
    rmSync(workdir, { recursive: true, force: true });
  }
});

test("a specialist's tool calls run on the same worker, answered in its thread", async () => {
  await using f = await startApiFixture({ temporal, script, workLeaseTtlSeconds: 6 });
  const { environment, environmentKey, agent: specialist } = await selfHostedSetup(f, 'team');
  await f.client.beta.agents.update(specialist.id, { version: specialist.version, name: 'specialist' });
  const coordinator = await f.client.beta.agents.create({
    name: 'coordinator',
    model: 'claude-sonnet-5-5',
    tools: [{ type: 'agent_toolset_20260401' }],
    multiagent: { type: 'coordinator', agents: [specialist.id] },
  } as Anthropic.Beta.Agents.AgentCreateParams);
  await withWorker(f, environment.id, environmentKey, async (workdir) => {
    const session = await f.client.beta.sessions.create({ agent: coordinator.id, environment_id: environment.id });
    await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'delegate' }] }] });
    const events = await waitForIdle(f, session.id, 90_000);
    const idle = events.findLast((e) => e.type === 'session.status_idle');
    assert.deepEqual(idle?.type === 'session.status_idle' && idle.stop_reason, { type: 'end_turn' });
    assert.equal(readFileSync(join(workdir, 'specialist.txt'), 'utf8'), 'from the specialist\n');
    // The specialist's call is in its thread's log, answered there by the worker.
    const threads = [];
    for await (const thread of f.client.beta.sessions.threads.list(session.id)) threads.push(thread);
    const specialistThread = threads.find((t) => 'name' in t.agent && t.agent.name === 'specialist');
    assert.ok(specialistThread);
    const threadEvents = [];
    for await (const event of f.client.beta.sessions.threads.events.list(specialistThread.id, { session_id: session.id, limit: 100 })) threadEvents.push(event);
    const use = threadEvents.find((e) => e.type === 'agent.tool_use');
    const result = threadEvents.find((e) => e.type === 'user.tool_result' && e.tool_use_id === use?.id);
    assert.match(resultText(result as BetaManagedAgentsSessionEvent) ?? '', /from the specialist/);
  });
});

test("the agent's skills reach the worker: it downloads them into skills/ of its folder, the prompt points there, the agent runs one", async () => {
  await using f = await startApiFixture({ temporal, script, workLeaseTtlSeconds: 6 });
  const { environment, environmentKey } = await selfHostedSetup(f, 'skilled');
  const skill = await f.client.beta.skills.create({
    files: [
      await toFile(Buffer.from('---\nname: greeter\ndescription: Greets whoever asks.\n---\nRun greet.sh with a name.\n'), 'greeter/SKILL.md'),
      await toFile(Buffer.from('#!/bin/bash\necho "hello, $1"\n'), 'greeter/greet.sh'),
    ],
  });
  const agent = await f.client.beta.agents.create({ name: 'skilled', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }], skills: [{ type: 'custom', skill_id: skill.id }] });
  await withWorker(f, environment.id, environmentKey, async (workdir) => {
    const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'skill' }] }] });
    const events = await waitForIdle(f, session.id);
    const result = events.find((e) => e.type === 'user.tool_result');
    assert.match(resultText(result) ?? '', /name: greeter/);
    assert.match(resultText(result) ?? '', /hello, worker/);
    const prompt = JSON.stringify(f.harness.model.calls[0]?.body.system ?? '');
    assert.match(prompt, /greeter \(skills\/greeter\/SKILL\.md\): Greets whoever asks\./);
    assert.doesNotMatch(prompt, /Run greet\.sh/, 'the body of SKILL.md stays out of the prompt');
  });
});

test('the work queue by hand: credentials, lease preconditions (412), stop and the item queued again', async () => {
  await using f = await startApiFixture({ temporal, script, workLeaseTtlSeconds: 30 });
  const { environment, environmentKey, agent } = await selfHostedSetup(f, 'by-hand');
  const worker = workerClient(f, environmentKey);
  const work = worker.beta.environments.work;
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'lease' }] }] });

  let item = await work.poll(environment.id, { block_ms: 999 });
  for (let i = 0; item === null && i < 50; i++) item = await work.poll(environment.id, { block_ms: 999 });
  assert.ok(item, 'the session queued an item');
  assert.deepEqual(item.data, { type: 'session', id: session.id });
  assert.equal(item.state, 'queued');
  const token = JSON.parse(Buffer.from(item.secret!, 'base64url').toString('utf8')).sessions_token as string;
  const itemClient = new Anthropic({ baseURL: f.api.url, authToken: token, apiKey: null, maxRetries: 0 });

  // The API key cannot poll or list; the environment key cannot retrieve or update.
  await assert.rejects(f.client.beta.environments.work.poll(environment.id), PermissionDeniedError);
  await assert.rejects(f.client.beta.environments.work.list(environment.id), PermissionDeniedError);
  await assert.rejects(work.retrieve(item.id, { environment_id: environment.id }), PermissionDeniedError);
  // The item's token reads its own session, and nothing else.
  assert.equal((await itemClient.beta.sessions.retrieve(session.id)).id, session.id);
  await assert.rejects(itemClient.beta.agents.list(), PermissionDeniedError);

  const acked = await work.ack(item.id, { environment_id: environment.id });
  assert.equal(acked.state, 'starting');
  const beat = await itemClient.beta.environments.work.heartbeat(item.id, { environment_id: environment.id, expected_last_heartbeat: 'NO_HEARTBEAT' });
  assert.equal(beat.type, 'work_heartbeat');
  assert.equal(beat.state, 'active');
  assert.equal(beat.lease_extended, true);
  assert.equal(beat.ttl_seconds, 30);
  // A stale expectation is the precondition failing: 412, with the lease as the server holds it.
  const stale = await itemClient.beta.environments.work.heartbeat(item.id, { environment_id: environment.id, expected_last_heartbeat: 'NO_HEARTBEAT' }).then(
    () => assert.fail('a stale heartbeat was accepted'),
    (error: unknown) => error,
  );
  assert.ok(stale instanceof PreconditionFailedError);
  assert.equal(stale.errorCode, 'heartbeat_precondition_failed');
  assert.deepEqual((stale.details as Record<string, unknown> | null)?.['current_state'], { last_heartbeat: beat.last_heartbeat, lease_extended: false, state: 'active', ttl_seconds: 30 });
  const next = await itemClient.beta.environments.work.heartbeat(item.id, { environment_id: environment.id, expected_last_heartbeat: beat.last_heartbeat, desired_ttl_seconds: 60 });
  assert.equal(next.ttl_seconds, 60);
  assert.notEqual(next.last_heartbeat, beat.last_heartbeat);

  const retrieved = await f.client.beta.environments.work.update(item.id, { environment_id: environment.id, metadata: { host: 'laptop' } });
  assert.equal(retrieved.state, 'active');
  assert.deepEqual(retrieved.metadata, { host: 'laptop' });
  assert.equal(retrieved.secret, null);
  const listed = await work.list(environment.id);
  assert.deepEqual(listed.data.map((w) => w.id), [item.id]);
  const stats = await f.client.beta.environments.work.stats(environment.id);
  assert.deepEqual({ depth: stats.depth, pending: stats.pending }, { depth: 0, pending: 0 });

  // user.tool_result is for self-hosted sessions' own tool calls only.
  await assert.rejects(itemClient.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_result', tool_use_id: 'sevt_nope', content: [] }] }), BadRequestError);

  // Stopped without answering: the session still waits for its call, so it queues a new item.
  const stopped = await itemClient.beta.environments.work.stop(item.id, { environment_id: environment.id, force: true });
  assert.equal(stopped.state, 'stopped');
  await assert.rejects(itemClient.beta.environments.work.heartbeat(item.id, { environment_id: environment.id }), AuthenticationError);
  let again = await work.poll(environment.id, { block_ms: 999 });
  for (let i = 0; again === null && i < 30; i++) again = await work.poll(environment.id, { block_ms: 999 });
  assert.ok(again, 'a new item was queued');
  assert.notEqual(again.id, item.id);
  assert.deepEqual(again.data, { type: 'session', id: session.id });

  // Its token answers the call, and the session finishes its turn.
  const againToken = JSON.parse(Buffer.from(again.secret!, 'base64url').toString('utf8')).sessions_token as string;
  const againClient = new Anthropic({ baseURL: f.api.url, authToken: againToken, apiKey: null, maxRetries: 0 });
  const use = (await againClient.beta.sessions.events.list(session.id, { types: ['agent.tool_use'] })).data[0];
  assert.ok(use);
  await againClient.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_result', tool_use_id: use.id, content: [{ type: 'text', text: 'answered by hand' }] }] });
  const events = await waitForIdle(f, session.id);
  const answer = events.findLast((e) => e.type === 'agent.message');
  assert.equal(answer?.type === 'agent.message' && answer.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), 'done: answered by hand');
});

test('a cloud session takes no user.tool_result, and a self-hosted session no resources', async () => {
  await using f = await startApiFixture({ temporal, script });
  const { environment, agent } = await selfHostedSetup(f, 'no-resources');
  const file = await f.client.beta.files.upload({ file: new File(['x'], 'x.txt', { type: 'text/plain' }) });
  await assert.rejects(
    f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, resources: [{ type: 'file', file_id: file.id }] }),
    (error: unknown) => error instanceof BadRequestError && /resources: .*self_hosted/.test(error.message),
  );
  const cloud = await f.client.beta.environments.create({ name: 'cloud' });
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: cloud.id });
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'lease' }] }] });
  await waitForIdle(f, session.id);
  const use = (await f.client.beta.sessions.events.list(session.id, { types: ['agent.tool_use'] })).data[0];
  assert.ok(use);
  await assert.rejects(
    f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_result', tool_use_id: use.id, content: [] }] }),
    (error: unknown) => error instanceof BadRequestError && /self_hosted/.test(error.message),
  );
  // An environment's type is fixed at creation.
  await assert.rejects(f.client.beta.environments.update(cloud.id, { config: { type: 'self_hosted' } }), BadRequestError);
});
