import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastToolResults, McpTestServer, text, toolUse, type ScriptFunction } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { capturingOutput } from '../support/capture-output.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';
import { idleWith, userText, waitForEvent, type LoggedEvent } from './session-log.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const LOOKUP = 'mcp__orders__lookup_order';

/** Calls the order tool once (if the model was offered it), then reports what came back. */
const orderScript: ScriptFunction = (request, { callIndex }) => {
  const offered = (request.tools ?? []).some((t) => 'name' in t && t.name === LOOKUP);
  if (callIndex === 0 && offered) return { content: [text('Looking it up.'), toolUse(LOOKUP, { order_id: 'ORD-1001' })] };
  const result = lastToolResults(request)[0];
  return { content: [text(result ? `order: ${result.text}` : 'no order tool')] };
};

async function orderSession(f: ApiFixture, mcp: McpTestServer, auth: Record<string, unknown>, toolset: Record<string, unknown> = {}) {
  const vault = await f.client.beta.vaults.create({ display_name: 'ops' });
  await f.client.beta.vaults.credentials.create(vault.id, { auth: { mcp_server_url: mcp.url, ...auth } as never });
  const agent = await f.client.beta.agents.create({
    name: 'support',
    model: 'claude-sonnet-5-5',
    mcp_servers: [{ type: 'url', name: 'orders', url: mcp.url }],
    tools: [{ type: 'agent_toolset_20260401' }, { type: 'mcp_toolset', mcp_server_name: 'orders', ...toolset }],
  });
  const environment = await f.client.beta.environments.create({ name: 'env', config: { type: 'cloud', networking: { type: 'unrestricted' } } });
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, vault_ids: [vault.id] });
  assert.deepEqual(session.vault_ids, [vault.id]);
  return session;
}

/** No secret in the log, in any request the model received, in the session container's environment, or in what this process printed (the worker logs here). */
function assertSecretsNowhere(f: ApiFixture, log: LoggedEvent[], sessionId: string, secrets: string[], output = ''): void {
  const containers = execFileSync('docker', ['ps', '-aq', '--filter', `label=longhaul.session=${sessionId}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  const inspected = containers.length > 0 ? execFileSync('docker', ['inspect', ...containers], { encoding: 'utf8' }) : '';
  const places: [string, string][] = [
    ['the event log', JSON.stringify(log)],
    ['the model requests', JSON.stringify(f.harness.model.calls.map((c) => c.body))],
    ['the container', inspected],
    ['the log output', output],
  ];
  for (const secret of secrets) for (const [where, content] of places) assert.ok(!content.includes(secret), `a secret is in ${where}`);
}

test('an MCP tool with a static bearer: discovered, held by the toolset default (always_ask), approved, called with the vault credential', async () => {
  await using mcp = await McpTestServer.start({ accessTokens: ['static-token-7f3a9c'] });
  await using f = await startApiFixture({ temporal, script: orderScript });
  const session = await orderSession(f, mcp, { type: 'static_bearer', token: 'static-token-7f3a9c' });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('where is ORD-1001?')] });

  let log = await waitForEvent(f.client, session.id, idleWith('requires_action'));
  const use = log.find((e) => e.type === 'agent.mcp_tool_use');
  assert.ok(use?.type === 'agent.mcp_tool_use');
  assert.deepEqual([use.mcp_server_name, use.name, use.input, use.evaluated_permission, use.evaluation], ['orders', 'lookup_order', { order_id: 'ORD-1001' }, 'ask', { type: 'always_ask' }]);
  assert.equal(mcp.toolCalls.length, 0, 'nothing called before approval');

  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: use.id, result: 'allow' }] });
  log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  const result = log.find((e) => e.type === 'agent.mcp_tool_result');
  assert.ok(result?.type === 'agent.mcp_tool_result');
  assert.equal(result.mcp_tool_use_id, use.id);
  assert.equal(result.is_error, false);
  assert.deepEqual(
    mcp.toolCalls.map((c) => [c.name, c.arguments]),
    [['lookup_order', { order_id: 'ORD-1001' }]],
  );
  assert.ok(mcp.authorizationHeaders.length > 0 && mcp.authorizationHeaders.every((h) => h === 'Bearer static-token-7f3a9c'));
  const final = log.findLast((e) => e.type === 'agent.message');
  assert.ok(final?.type === 'agent.message' && JSON.stringify(final.content).includes('shipped'));
  assertSecretsNowhere(f, log, session.id, ['static-token-7f3a9c']);
});

test('mcp_oauth: an expired access token gets a 401, the worker refreshes it at the token endpoint and the call goes through', async () => {
  await using mcp = await McpTestServer.start({
    accessTokens: [],
    oauth: { clientId: 'longhaul-client', clientSecret: 'client-secret-91be', clientAuth: 'client_secret_basic', refreshTokens: ['refresh-token-44d2'] },
  });
  await using f = await startApiFixture({ temporal, script: orderScript });
  const session = await orderSession(
    f,
    mcp,
    {
      type: 'mcp_oauth',
      access_token: 'expired-access-0c1d',
      refresh: { client_id: 'longhaul-client', refresh_token: 'refresh-token-44d2', token_endpoint: mcp.tokenUrl, token_endpoint_auth: { type: 'client_secret_basic', client_secret: 'client-secret-91be' } },
    },
    { default_config: { permission_policy: { type: 'always_allow' } } },
  );
  const { result: log, output } = await capturingOutput(async () => {
    await f.client.beta.sessions.events.send(session.id, { events: [userText('where is ORD-1001?')] });
    return waitForEvent(f.client, session.id, idleWith('end_turn'));
  });
  assert.ok(mcp.tokenRefreshCount >= 1, 'refreshed');
  const result = log.find((e) => e.type === 'agent.mcp_tool_result');
  assert.ok(result?.type === 'agent.mcp_tool_result' && result.is_error === false);
  assert.equal(log.filter((e) => e.type === 'session.error').length, 0);
  assert.ok(mcp.authorizationHeaders.includes('Bearer expired-access-0c1d'), 'the old token was tried first');
  const issued = mcp.authorizationHeaders.at(-1) ?? '';
  assert.notEqual(issued, 'Bearer expired-access-0c1d');
  assertSecretsNowhere(f, log, session.id, ['expired-access-0c1d', 'refresh-token-44d2', 'client-secret-91be', issued.replace('Bearer ', '')], output);
});

test('a wrong token surfaces mcp_authentication_failed_error and the turn goes on without the server', async () => {
  await using mcp = await McpTestServer.start({ accessTokens: ['the-right-token'] });
  await using f = await startApiFixture({ temporal, script: orderScript });
  const session = await orderSession(f, mcp, { type: 'static_bearer', token: 'a-wrong-token-5e6f' });
  const { result: log, output } = await capturingOutput(async () => {
    await f.client.beta.sessions.events.send(session.id, { events: [userText('where is ORD-1001?')] });
    return waitForEvent(f.client, session.id, idleWith('end_turn'));
  });
  const error = log.find((e) => e.type === 'session.error');
  assert.ok(error?.type === 'session.error');
  assert.equal(error.error.type, 'mcp_authentication_failed_error');
  assert.ok(error.error.type === 'mcp_authentication_failed_error' && error.error.mcp_server_name === 'orders');
  const final = log.findLast((e) => e.type === 'agent.message');
  assert.ok(final?.type === 'agent.message');
  assert.deepEqual(final.content, [{ type: 'text', text: 'no order tool' }]);
  assertSecretsNowhere(f, log, session.id, ['a-wrong-token-5e6f'], output);
});

test('an unreachable MCP server surfaces mcp_connection_failed_error', async () => {
  const mcp = await McpTestServer.start({ auth: 'none' });
  const url = mcp.url;
  await mcp.close();
  await using f = await startApiFixture({ temporal, script: orderScript });
  const agent = await f.client.beta.agents.create({
    name: 'support',
    model: 'claude-sonnet-5-5',
    mcp_servers: [{ type: 'url', name: 'orders', url }],
    tools: [{ type: 'mcp_toolset', mcp_server_name: 'orders' }],
  });
  const environment = await f.client.beta.environments.create({ name: 'env' });
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('hello')] });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  const error = log.find((e) => e.type === 'session.error');
  assert.ok(error?.type === 'session.error' && error.error.type === 'mcp_connection_failed_error');
});
