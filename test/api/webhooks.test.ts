import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type Anthropic from '@anthropic-ai/sdk';
import type { BetaWebhookEvent } from '@anthropic-ai/sdk/resources/beta/webhooks';
import type { WebhookDelivery, WebhookEndpoint } from '../../src/schemas/api-webhook.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastUserText, reply, type ScriptFunction } from '../../src/testing/index.ts';
import { freePort } from '../../src/net/free-port.ts';
import { capturingOutput } from '../support/capture-output.ts';
import { eventually } from '../support/eventually.ts';
import { startTestTemporal } from '../support/harness.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const echo: ScriptFunction = (request) => reply(`report: ${lastUserText(request)}`);
const message = (text: string) => [{ type: 'user.message' as const, content: [{ type: 'text' as const, text }] }];

/** A delivery as the receiver got it, and what the official SDK's `unwrap` made of it. */
type Received = { webhookId: string; status: number; event: BetaWebhookEvent | undefined; unwrapError: string | undefined };

/**
 * A webhook receiver: verifies every request with the official SDK's `unwrap` (the
 * endpoint's secret as the key) and answers as `mode` says — 200, 503 ("down"), or
 * after `holdMs`.
 */
async function startReceiver(client: Anthropic) {
  const received: Received[] = [];
  const state = { mode: 'ok' as 'ok' | 'down', holdMs: 0, secret: '', inFlight: 0, completed: 0 };
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    state.inFlight++;
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
      let event: BetaWebhookEvent | undefined;
      let unwrapError: string | undefined;
      try {
        event = client.beta.webhooks.unwrap(body, { headers, key: state.secret });
      } catch (error) {
        unwrapError = String(error);
      }
      const status = state.mode === 'down' ? 503 : unwrapError ? 400 : 200;
      const answer = () => {
        received.push({ webhookId: headers['webhook-id']!, status, event, unwrapError });
        state.inFlight--;
        state.completed++;
        response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'not now');
      };
      if (state.holdMs > 0) setTimeout(answer, state.holdMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return {
    url,
    received,
    state,
    /** Deliveries answered 200, by type. */
    delivered: (type?: string) => received.filter((r) => r.status === 200 && (type === undefined || r.event?.data.type === type)),
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type CreatedEndpoint = WebhookEndpoint & { secret: string };

const createEndpoint = (f: ApiFixture, body: Record<string, unknown>) => f.client.post<CreatedEndpoint>('/v1/webhook_endpoints', { body });
const deliveriesOf = async (f: ApiFixture, endpointId: string) =>
  (await f.client.get<{ data: WebhookDelivery[] }>(`/v1/webhook_endpoints/${endpointId}/deliveries`, { query: { limit: 100 } })).data;


async function agentAndEnvironment(f: ApiFixture) {
  const agent = await f.client.beta.agents.create({ name: 'Reporter', model: 'claude-sonnet-5-5' });
  const environment = await f.client.beta.environments.create({ name: 'webhooks-env' });
  return { agent, environment };
}

const SESSION_TYPES = ['session.created', 'session.running', 'session.status_run_started', 'session.status_idled', 'session.idled'];

test('every delivery verifies with the SDK\'s unwrap: a session\'s lifecycle, its updates, and a deployment run', async () => {
  await using f = await startApiFixture({ temporal, script: echo });
  await using receiver = await startReceiver(f.client);
  const { client } = f;

  // Bad input: a 400 naming the field.
  for (const [body, message] of [
    [{ url: 'ftp://example.com/x', event_types: ['session.created'] }, /^url: must be an http\(s\) URL/],
    [{ url: 'https://user:pw@example.com/x', event_types: ['session.created'] }, /^url: must be an http\(s\) URL without credentials/],
    [{ url: receiver.url, event_types: [] }, /^event_types: event_types must name at least one event type/],
    [{ url: receiver.url, event_types: ['session.nope'] }, /^event_types\.0: /],
    [{ url: receiver.url, event_types: ['session.created'], secret: 'hunter2' }, /^secret: must be "whsec_"/],
  ] as const) {
    await assert.rejects(createEndpoint(f, body), (error: { status?: number; error?: { error?: { message?: string } } }) => {
      assert.equal(error.status, 400);
      assert.match(error.error?.error?.message ?? '', message);
      return true;
    });
  }

  const endpoint = await createEndpoint(f, {
    url: receiver.url,
    event_types: [...SESSION_TYPES, 'session.updated', 'session.archived', 'deployment_run.started', 'deployment_run.succeeded', 'agent.created', 'environment.archived'],
    description: 'test receiver',
  });
  assert.match(endpoint.id, /^wep_011C/);
  assert.match(endpoint.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  receiver.state.secret = endpoint.secret;
  // The secret is shown once: never again.
  const retrieved = await client.get<Record<string, unknown>>(`/v1/webhook_endpoints/${endpoint.id}`);
  assert.equal(retrieved['secret'], undefined);
  assert.equal(retrieved['status'], 'enabled');

  const { agent, environment } = await agentAndEnvironment(f);
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, initial_events: message('ping') });
  await eventually('the session lifecycle deliveries', () => SESSION_TYPES.every((type) => receiver.delivered(type).length > 0));
  await client.beta.sessions.update(session.id, { title: 'renamed' });
  await client.beta.sessions.archive(session.id);
  await eventually('updated and archived', () => receiver.delivered('session.updated').length > 0 && receiver.delivered('session.archived').length > 0);

  const deployment = await client.beta.deployments.create({ name: 'hourly', agent: agent.id, environment_id: environment.id, initial_events: message('tick') });
  const run = await client.beta.deployments.run(deployment.id);
  await eventually('the run started and succeeded', () => receiver.delivered('deployment_run.started').length > 0 && receiver.delivered('deployment_run.succeeded').length > 0);
  const spare = await client.beta.environments.create({ name: 'spare' });
  await client.beta.environments.archive(spare.id);
  await eventually('agent.created and environment.archived', () => receiver.delivered('agent.created').length > 0 && receiver.delivered('environment.archived').length > 0);

  for (const r of receiver.received) assert.equal(r.unwrapError, undefined, `${r.webhookId}: ${r.unwrapError}`);
  const byType = (type: string) => receiver.delivered(type).map((r) => r.event!);
  for (const type of [...SESSION_TYPES, 'session.updated', 'session.archived']) {
    const [event, ...more] = byType(type).filter((e) => e.data.id === session.id);
    assert.ok(event, `${type} for the session`);
    assert.equal(more.length, 0, `${type} once`);
    assert.equal(event.type, 'event');
    assert.match(event.id, /^wevt_011C/);
    assert.ok(!Number.isNaN(Date.parse(event.created_at)));
    assert.deepEqual(event.data, { type, id: session.id, organization_id: 'org_longhaul', workspace_id: 'wrkspc_default' });
  }
  assert.equal(byType('deployment_run.started')[0]?.data.id, run.id);
  assert.deepEqual(byType('agent.created').map((e) => e.data.id), [agent.id]);
  assert.deepEqual(byType('environment.archived').map((e) => e.data.id), [spare.id]);
  assert.equal(byType('deployment_run.succeeded')[0]?.data.id, run.id);
  // Each delivery's webhook-id once, and the endpoint's record of each.
  const ids = receiver.received.map((r) => r.webhookId);
  assert.equal(new Set(ids).size, ids.length);
  const deliveries = await deliveriesOf(f, endpoint.id);
  assert.deepEqual(new Set(deliveries.map((d) => d.id)), new Set(ids));
  for (const d of deliveries) {
    assert.equal(d.status, 'delivered');
    assert.equal(d.attempts, 1);
    assert.equal(d.last_response_status, 200);
  }
});

test('a receiver down for a while gets every event once it is back, under the webhook-ids it was first sent with', async () => {
  await using f = await startApiFixture({ temporal, script: echo, webhookRetry: { initialIntervalMs: 200, maximumIntervalMs: 1000, maximumAttempts: 60 } });
  await using receiver = await startReceiver(f.client);
  const endpoint = await createEndpoint(f, { url: receiver.url, event_types: SESSION_TYPES });
  receiver.state.secret = endpoint.secret;
  receiver.state.mode = 'down';

  const { agent, environment } = await agentAndEnvironment(f);
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, initial_events: message('ping') });
  // The session is not held up: it idles while every delivery is failing.
  await eventually('the session to idle', async () => (await f.client.beta.sessions.retrieve(session.id)).status === 'idle');
  await eventually('each event refused at least twice', () => SESSION_TYPES.every((type) => receiver.received.filter((r) => r.status === 503 && r.event?.data.type === type).length >= 2));
  const refusedIds = new Set(receiver.received.map((r) => r.webhookId));
  assert.equal(refusedIds.size, SESSION_TYPES.length);

  receiver.state.mode = 'ok';
  await eventually('every event delivered', () => SESSION_TYPES.every((type) => receiver.delivered(type).length > 0), { timeoutMs: 30_000 });
  assert.deepEqual(new Set(receiver.delivered().map((r) => r.webhookId)), refusedIds, 'the same ids as the refused attempts');
  for (const type of SESSION_TYPES) assert.equal(receiver.delivered(type).length, 1, `${type} delivered once`);
  const deliveries = await deliveriesOf(f, endpoint.id);
  for (const d of deliveries) {
    assert.equal(d.status, 'delivered');
    assert.ok(d.attempts >= 3, `${d.event_type}: ${d.attempts} attempts`);
  }
});

test('a slow receiver never holds up the session', async () => {
  await using f = await startApiFixture({ temporal, script: echo });
  await using receiver = await startReceiver(f.client);
  const endpoint = await createEndpoint(f, { url: receiver.url, event_types: SESSION_TYPES });
  receiver.state.secret = endpoint.secret;
  receiver.state.holdMs = 8_000;

  const { agent, environment } = await agentAndEnvironment(f);
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, initial_events: message('ping') });
  await eventually('the session to idle', async () => (await f.client.beta.sessions.retrieve(session.id)).status === 'idle', { timeoutMs: 20_000 });
  // Idle before the receiver has answered anything: nothing waited for it.
  assert.equal(receiver.state.completed, 0);
  await eventually('the receiver to hold a request', () => receiver.state.inFlight >= 1);
  assert.equal(receiver.state.completed, 0, 'the receiver is still holding its first request');
  receiver.state.holdMs = 0;
  await eventually('every event delivered', () => SESSION_TYPES.every((type) => receiver.delivered(type).length > 0), { timeoutMs: 30_000 });
});

test('a dead endpoint is reported, not retried forever: the delivery fails and the endpoint is disabled, saying why', async () => {
  await using f = await startApiFixture({ temporal, script: echo, webhookRetry: { initialIntervalMs: 100, maximumIntervalMs: 200, maximumAttempts: 3 } });
  const deadUrl = `http://127.0.0.1:${await freePort()}/nobody-home`;
  const endpoint = await createEndpoint(f, { url: deadUrl, event_types: ['session.created'] });
  const { agent, environment } = await agentAndEnvironment(f);
  const { result: disabled, output } = await capturingOutput(async () => {
    await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    return eventually('the endpoint to be disabled', async () => {
      const current = await f.client.get<WebhookEndpoint>(`/v1/webhook_endpoints/${endpoint.id}`);
      return current.status === 'disabled' ? current : undefined;
    });
  });
  // The worker's log: one warning when it gives up, not one with a stack per failed attempt; never the URL.
  assert.equal(output.match(/webhook endpoint disabled/g)?.length, 1, output);
  assert.doesNotMatch(output, /Activity failed/);
  assert.ok(!output.includes(deadUrl), 'the endpoint URL is not logged');
  assert.equal(disabled.disabled_reason?.type, 'delivery_failures');
  assert.match(disabled.disabled_reason?.type === 'delivery_failures' ? disabled.disabled_reason.message : '', /failed 3 attempts; the last: could not reach the endpoint \(ECONNREFUSED\)/);
  const [delivery] = await deliveriesOf(f, endpoint.id);
  assert.equal(delivery?.status, 'failed');
  assert.equal(delivery?.attempts, 3);
  assert.equal(delivery?.last_response_status, null);

  // Disabled: later events are not sent to it. Re-enabled, they are again.
  await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal((await deliveriesOf(f, endpoint.id)).length, 1);
  const enabled = await f.client.post<WebhookEndpoint>(`/v1/webhook_endpoints/${endpoint.id}`, { body: { status: 'enabled' } });
  assert.equal(enabled.status, 'enabled');
  assert.equal(enabled.disabled_reason, null);
  await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  await eventually('a new delivery to the re-enabled endpoint', async () => ((await deliveriesOf(f, endpoint.id)).length === 2 ? true : undefined));
  const archived = await f.client.post<WebhookEndpoint>(`/v1/webhook_endpoints/${endpoint.id}/archive`);
  assert.ok(archived.archived_at);
});
