/**
 * Input that used to crash a request into a 500: every one is now a 4xx in the error
 * envelope, naming what was wrong. Real HTTP to the real app and store.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { API_KEY, startApiFixture, type ApiFixture } from './api-fixture.ts';

let temporal: DevServer;
let f: ApiFixture;
before(async () => {
  temporal = await startTestTemporal();
  f = await startApiFixture({ temporal, script: demoAgentScript });
});
after(async () => {
  await f?.[Symbol.asyncDispose]();
  await temporal?.stop();
});

type Answer = { status: number; body: { type?: string; error?: { type: string; message: string } }; headers: Headers };

/** One request over node:http (fetch refuses methods like TRACE). */
async function call(method: string, path: string, body?: string): Promise<Answer> {
  const url = new URL(`${f.api.url}${path}`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method,
        headers: { 'x-api-key': API_KEY, ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
          resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Answer['body']) : {}, headers });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function assertRefused(answer: Answer, status: number | readonly number[], message?: RegExp): void {
  const statuses = typeof status === 'number' ? [status] : status;
  assert.ok(statuses.includes(answer.status), `status ${answer.status}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.type, 'error');
  if (message) assert.match(answer.body.error?.message ?? '', message);
}

test('a NUL or a lone surrogate anywhere in a JSON body is a 400 naming the field', async () => {
  assertRefused(await call('POST', '/v1/agents', '{"name":"a\\u0000b","model":"claude-sonnet-5-5"}'), 400, /^name: must not contain NUL/);
  assertRefused(await call('POST', '/v1/agents', '{"name":"ok","model":"claude-sonnet-5-5","description":"\\ud800"}'), 400, /^description: .*unpaired UTF-16 surrogates/);
  assertRefused(await call('POST', '/v1/agents', '{"name":"ok","model":"claude-sonnet-5-5","metadata":{"k\\u0000":"v"}}'), 400, /^metadata\.k\u0000: /);
  const env = await call('POST', '/v1/environments', '{"name":"e","config":{"type":"cloud","networking":{"type":"limited","allowed_hosts":["x\\udfff"]}}}');
  assertRefused(env, 400, /^config\.networking\.allowed_hosts\.0: /);
  // A well-formed pair (an emoji) is fine.
  assert.equal((await call('POST', '/v1/agents', '{"name":"ok \\ud83d\\ude00","model":"claude-sonnet-5-5"}')).status, 200);
});

test('a NUL in an id or a query value is a 4xx on every resource, never a 500', async () => {
  const paths = [
    '/v1/agents/%00',
    '/v1/agents/%00/versions',
    '/v1/environments/%00',
    '/v1/sessions/%00',
    '/v1/sessions/%00/events',
    '/v1/sessions/%00/resources',
    '/v1/files/%00',
    '/v1/files/%00/content',
    '/v1/vaults/%00',
    '/v1/vaults/%00/credentials',
    '/v1/agents?page=%00',
    '/v1/sessions?agent_id=%00',
    '/v1/agents/%ZZ',
  ];
  for (const path of paths) assertRefused(await call('GET', path), [400, 404], undefined);
  assertRefused(await call('GET', '/v1/agents?page=%00'), 400, /^page: must not contain NUL/);
});

test('integers beyond what the store holds are a 400', async () => {
  const agent = await f.client.beta.agents.create({ name: 'versions', model: 'claude-sonnet-5-5' });
  assertRefused(await call('POST', `/v1/agents/${agent.id}`, JSON.stringify({ version: 2 ** 31, name: 'x' })), 400, /^version: /);
  assertRefused(await call('GET', `/v1/agents/${agent.id}?version=99999999999`), 400, /^version: /);
  assertRefused(await call('GET', '/v1/agents?limit=99999999999'), 400, /^limit: /);
});

test('tools too large for a session to carry are a 400 naming tools, for agents and session overrides alike', async () => {
  const huge = { type: 'custom', name: 'huge', description: 'd', input_schema: { type: 'object', description: 'x'.repeat(600 * 1024) } };
  assertRefused(await call('POST', '/v1/agents', JSON.stringify({ name: 'big', model: 'claude-sonnet-5-5', tools: [huge] })), 400, /^tools: .*at most 524288 bytes/);
  const agent = await f.client.beta.agents.create({ name: 'small', model: 'claude-sonnet-5-5' });
  assertRefused(await call('POST', `/v1/agents/${agent.id}`, JSON.stringify({ version: 1, tools: [huge] })), 400, /^tools: /);
  const environment = await f.client.beta.environments.create({ name: 'big-tools' });
  const override = { type: 'agent_with_overrides', id: agent.id, tools: [huge] };
  assertRefused(await call('POST', '/v1/sessions', JSON.stringify({ agent: override, environment_id: environment.id })), 400, /^agent\.tools: /);
});

test('a page cursor this server did not write is a 400 naming page', async () => {
  const session = (await f.client.beta.sessions.create({
    agent: (await f.client.beta.agents.create({ name: 'c', model: 'claude-sonnet-5-5' })).id,
    environment_id: (await f.client.beta.environments.create({ name: 'c' })).id,
  })) as { id: string };
  const cursor = (value: unknown, prefix: string) => `${prefix}${Buffer.from(JSON.stringify(value)).toString('base64url')}`;
  for (const page of [cursor(['asc', 1.5], 'evpage_'), cursor(['asc', 1e300], 'evpage_'), cursor(['asc', -1], 'evpage_'), 'evpage_%%%']) {
    assertRefused(await call('GET', `/v1/sessions/${session.id}/events?page=${encodeURIComponent(page)}`), 400, /^page: /);
  }
  for (const page of [cursor(['next', 'not-a-time', 'agent_x'], 'page_'), cursor(['next', '2026-01-01T00:00:00Z', 'a\u0000'], 'page_')]) {
    assertRefused(await call('GET', `/v1/agents?page=${encodeURIComponent(page)}`), 400, /^page: /);
  }
});

test('an oversized header is answered 431 with the envelope, not a reset', async () => {
  const url = new URL(f.api.url);
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) }, () => {
      socket.write(`GET /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'k'.repeat(100_000)}\r\n\r\n`);
    });
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('end', () => resolve(received));
    socket.on('error', (error) => (received ? resolve(received) : reject(error)));
  });
  assert.match(raw, /^HTTP\/1\.1 431 /);
  assert.match(raw, /"type":"request_too_large"/);
});

test('a method a path does not serve is 405 with Allow; TRACE included', async () => {
  const trace = await call('TRACE', '/v1/agents');
  assertRefused(trace, 405, /TRACE is not served on \/v1\/agents/);
  assert.match(trace.headers.get('allow') ?? '', /GET/);
  assert.match(trace.headers.get('allow') ?? '', /POST/);
  assertRefused(await call('PUT', '/v1/agents'), 405);
});

test('the OpenAPI document declares skills with a valid schema', async () => {
  const response = await fetch(`${f.api.url}/openapi.json`);
  const text = await response.text();
  assert.doesNotMatch(text, /"items":\[\]/);
  const skills: unknown[] = [];
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    const properties = (value as { properties?: Record<string, unknown> }).properties;
    if (properties?.['skills'] !== undefined) skills.push(properties['skills']);
    for (const child of Object.values(value)) visit(child);
  };
  visit(JSON.parse(text));
  assert.ok(skills.length > 0, `no skills property in: ${text.slice(0, 300)} (mentions: ${text.split('skills').length - 1})`);
  for (const schema of skills) {
    const { type, items } = schema as { type?: unknown; items?: unknown };
    if (type === undefined) continue; // A request's "not supported" schema.
    assert.ok([type].flat().includes('array'), JSON.stringify(schema));
    assert.ok(items !== undefined && !Array.isArray(items), JSON.stringify(schema));
  }
});
