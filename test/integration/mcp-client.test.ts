/**
 * The MCP client library against a real MCP server (the SDK's McpServer over
 * streamable HTTP on 127.0.0.1), with real bearer auth and a real token endpoint.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { McpAuthenticationError, McpConnectionError } from '../../src/mcp/mcp-errors.ts';
import { callMcpTool, listMcpTools, McpConnectionPool, type McpServerRef, type McpTokenSource } from '../../src/mcp/mcp-session-client.ts';
import { DEFAULT_TEST_ORDERS, McpTestServer, TINY_PNG_BASE64 } from '../../src/testing/index.ts';
import { contextOutlives } from '../support/unreachable.ts';

const TOKEN = 'tok-valid-3f9a';
const bearer = (token: string | undefined): McpTokenSource => async () => token;
const ref = (mcp: McpTestServer): McpServerRef => ({ name: 'orders', url: mcp.url });

/** A token source backed by the test server's OAuth endpoint, as the credential resolver will be. */
function oauthTokenSource({ mcp, accessToken, refreshToken }: { mcp: McpTestServer; accessToken: string; refreshToken: string }) {
  const calls: boolean[] = [];
  let current = accessToken;
  let refresh = refreshToken;
  const source: McpTokenSource = async ({ forceRefresh }) => {
    calls.push(forceRefresh);
    if (!forceRefresh) return current;
    const response = await fetch(mcp.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('longhaul-client:s3cret-client').toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, resource: mcp.url, scope: 'orders:read' }),
    });
    const body = (await response.json()) as { access_token: string; refresh_token?: string; scope?: string };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.scope, 'orders:read');
    current = body.access_token;
    if (body.refresh_token !== undefined) refresh = body.refresh_token;
    return current;
  };
  return { source, calls, current: () => current };
}

async function startRawServer(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server } & AsyncDisposable> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    server,
    [Symbol.asyncDispose]: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function assertNoSecret(err: unknown, secrets: readonly string[]): void {
  const text = `${String(err)} ${JSON.stringify(err)} ${(err as Error).stack ?? ''}`;
  for (const secret of secrets) assert.ok(!text.includes(secret), `error text contains a token: ${text}`);
}

describe('tools/list', () => {
  test('lists the tools with their descriptions and JSON Schema inputs', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    const tools = await listMcpTools({ server: ref(mcp), token: bearer(TOKEN) });
    assert.deepEqual(
      tools.map((tool) => tool.name),
      ['add', 'echo', 'lookup_order', 'fail', 'slow', 'mixed_content'],
    );
    const add = tools.find((tool) => tool.name === 'add');
    assert.equal(add?.description, 'Adds two numbers.');
    assert.equal(add?.inputSchema.type, 'object');
    assert.deepEqual(add?.inputSchema.properties, { a: { type: 'number' }, b: { type: 'number' } });
    assert.deepEqual(add?.inputSchema.required, ['a', 'b']);
  });

  test('follows nextCursor through every page', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN], toolsPageSize: 2 });
    mcp.registerTool('greet', { description: 'Greets.', inputSchema: { who: z.string() } }, ({ who }) => ({ content: [{ type: 'text', text: `hello ${who}` }] }));
    const tools = await listMcpTools({ server: ref(mcp), token: bearer(TOKEN) });
    assert.deepEqual(
      tools.map((tool) => tool.name),
      ['add', 'echo', 'lookup_order', 'fail', 'slow', 'mixed_content', 'greet'],
    );
    assert.deepEqual(tools.at(-1)?.inputSchema.properties, { who: { type: 'string' } });
    const listRequests = mcp.requests.filter((request) => request.rpcMethods.includes('tools/list'));
    assert.equal(listRequests.length, 4, 'seven tools at two a page are four pages');
  });

  test('a server whose cursors never end is a connection error, not a hang', async () => {
    await using raw = await startRawServer(async (request, response) => {
      if (request.method !== 'POST') return void response.writeHead(405).end();
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const message = JSON.parse(Buffer.concat(chunks).toString()) as { id?: number; method: string };
      if (message.id === undefined) return void response.writeHead(202).end();
      const result =
        message.method === 'initialize'
          ? { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'loop', version: '1' } }
          : { tools: [{ name: 'same', inputSchema: { type: 'object' } }], nextCursor: 'again' };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
    });
    await assert.rejects(listMcpTools({ server: { name: 'loop', url: raw.url }, token: bearer(undefined) }), (err: unknown) => {
      assert.ok(err instanceof McpConnectionError);
      assert.match(err.message, /pages do not end/);
      return true;
    });
  });
});

describe('tools/call', () => {
  test('calls tools and returns their content', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    const server = ref(mcp);
    const sum = await callMcpTool({ server, token: bearer(TOKEN), tool: 'add', input: { a: 2, b: 40 } });
    assert.deepEqual(sum, { content: [{ type: 'text', text: '42' }], isError: false });

    const order = await callMcpTool({ server, token: bearer(TOKEN), tool: 'lookup_order', input: { order_id: 'ORD-1002' } });
    assert.equal(order.isError, false);
    const [block] = order.content;
    assert.equal(block?.type, 'text');
    assert.deepEqual(JSON.parse(block.type === 'text' ? block.text : ''), DEFAULT_TEST_ORDERS['ORD-1002']);

    assert.deepEqual(
      mcp.toolCalls.map(({ name, arguments: args, status }) => ({ name, args, status })),
      [
        { name: 'add', args: { a: 2, b: 40 }, status: 'completed' },
        { name: 'lookup_order', args: { order_id: 'ORD-1002' }, status: 'completed' },
      ],
    );
  });

  test('a tool reporting an error, an unknown tool and bad arguments are outcomes with isError', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    const call = (tool: string, input: Record<string, unknown>) => callMcpTool({ server: ref(mcp), token: bearer(TOKEN), tool, input });

    assert.deepEqual(await call('fail', { message: 'warehouse offline' }), { content: [{ type: 'text', text: 'warehouse offline' }], isError: true });
    assert.deepEqual(await call('lookup_order', { order_id: 'ORD-404' }), { content: [{ type: 'text', text: 'order ORD-404 not found' }], isError: true });

    const unknown = await call('no_such_tool', {});
    assert.equal(unknown.isError, true);
    assert.match(JSON.stringify(unknown.content), /no_such_tool/);

    const badArgs = await call('add', { a: 'two', b: 2 });
    assert.equal(badArgs.isError, true);
    assert.match(JSON.stringify(badArgs.content), /number/i);
  });

  test('maps text, images, embedded resources and links to tool result blocks', async () => {
    await using mcp = await McpTestServer.start({ auth: 'none' });
    const outcome = await callMcpTool({ server: ref(mcp), token: bearer(undefined), tool: 'mixed_content', input: {} });
    assert.deepEqual(outcome, {
      isError: false,
      content: [
        { type: 'text', text: 'report follows' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: TINY_PNG_BASE64 } },
        { type: 'text', text: 'embedded report text' },
        { type: 'text', text: '[resource file:///report.bin (application/octet-stream, 4 bytes) not shown]' },
        { type: 'text', text: '[resource link report.pdf: https://example.com/report.pdf (application/pdf)]' },
      ],
    });
    assert.deepEqual(mcp.authorizationHeaders, [], 'no token source value, no Authorization header');
  });

  test('each call without a pool ends its session with DELETE', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    await callMcpTool({ server: ref(mcp), token: bearer(TOKEN), tool: 'echo', input: { text: 'one' } });
    await listMcpTools({ server: ref(mcp), token: bearer(TOKEN) });
    assert.deepEqual(mcp.sessions, { opened: 2, deleted: 2, active: 0 });
    assert.equal(mcp.requests.filter((request) => request.method === 'DELETE' && request.status === 200).length, 2);
  });
});

describe('authentication', () => {
  test('sends the bearer on every request', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    await callMcpTool({ server: ref(mcp), token: bearer(TOKEN), tool: 'echo', input: { text: 'hi' } });
    assert.ok(mcp.authorizationHeaders.length >= 3, 'initialize, initialized, call and DELETE at least');
    assert.deepEqual(new Set(mcp.authorizationHeaders), new Set([`Bearer ${TOKEN}`]));
    assert.ok(mcp.requests.every((request) => request.status !== 401));
  });

  test('an expired token: 401, one forced refresh through the token endpoint, the call retried and answered', async () => {
    await using mcp = await McpTestServer.start({
      accessTokens: ['tok-expired-77c1'],
      oauth: { clientId: 'longhaul-client', clientSecret: 's3cret-client', clientAuth: 'client_secret_basic', refreshTokens: ['rt-initial-9d2e'], rotateRefreshTokens: true },
    });
    mcp.revokeToken('tok-expired-77c1');
    const tokens = oauthTokenSource({ mcp, accessToken: 'tok-expired-77c1', refreshToken: 'rt-initial-9d2e' });

    const outcome = await callMcpTool({ server: ref(mcp), token: tokens.source, tool: 'add', input: { a: 1, b: 2 } });
    assert.deepEqual(outcome, { content: [{ type: 'text', text: '3' }], isError: false });
    assert.deepEqual(tokens.calls, [false, true], 'asked once, then once with forceRefresh');
    assert.equal(mcp.tokenRefreshCount, 1);
    assert.deepEqual(
      mcp.tokenRequests.map(({ grantType, clientId, clientAuth, resource, scope, status }) => ({ grantType, clientId, clientAuth, resource, scope, status })),
      [{ grantType: 'refresh_token', clientId: 'longhaul-client', clientAuth: 'client_secret_basic', resource: mcp.url, scope: 'orders:read', status: 200 }],
    );
    assert.deepEqual(mcp.refreshTokens.length, 1);
    assert.notEqual(mcp.refreshTokens[0], 'rt-initial-9d2e', 'the refresh token was rotated');
    const initializes = mcp.requests.filter((request) => request.rpcMethods.includes('initialize')).map((request) => request.status);
    assert.deepEqual(initializes, [401, 200]);
    assert.equal(mcp.toolCalls.length, 1);
  });

  test('a token the server never accepts: McpAuthenticationError after one refresh, no token in the error', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    const calls: boolean[] = [];
    const source: McpTokenSource = async ({ forceRefresh }) => {
      calls.push(forceRefresh);
      return forceRefresh ? 'tok-wrong-refreshed-51aa' : 'tok-wrong-0b7e';
    };
    await assert.rejects(callMcpTool({ server: ref(mcp), token: source, tool: 'add', input: { a: 1, b: 1 } }), (err: unknown) => {
      assert.ok(err instanceof McpAuthenticationError, String(err));
      assert.equal(err.mcpServerName, 'orders');
      assert.match(err.message, /^MCP server "orders": .*401/);
      assertNoSecret(err, ['tok-wrong-0b7e', 'tok-wrong-refreshed-51aa']);
      return true;
    });
    assert.deepEqual(calls, [false, true]);
    assert.equal(mcp.toolCalls.length, 0);
  });

  test('a forbidden token (403) is McpAuthenticationError without a refresh', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    mcp.forbidToken(TOKEN);
    const calls: boolean[] = [];
    const source: McpTokenSource = async ({ forceRefresh }) => {
      calls.push(forceRefresh);
      return TOKEN;
    };
    await assert.rejects(listMcpTools({ server: ref(mcp), token: source }), (err: unknown) => {
      assert.ok(err instanceof McpAuthenticationError);
      assert.match(err.message, /403/);
      assertNoSecret(err, [TOKEN]);
      return true;
    });
    assert.deepEqual(calls, [false]);
  });

  test('no token for a server that wants one is McpAuthenticationError', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    await assert.rejects(listMcpTools({ server: ref(mcp), token: bearer(undefined) }), McpAuthenticationError);
  });

  test('a failing token source fails the call with its own error', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    const failure = new Error('vault unreachable');
    await assert.rejects(
      listMcpTools({
        server: ref(mcp),
        token: async () => {
          throw failure;
        },
      }),
      (err: unknown) => err === failure,
    );
  });
});

describe('connection failures', () => {
  test('a closed port is McpConnectionError (connection refused)', async () => {
    const mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    const server = ref(mcp);
    await mcp.close();
    await assert.rejects(listMcpTools({ server, token: bearer(TOKEN) }), (err: unknown) => {
      assert.ok(err instanceof McpConnectionError, String(err));
      assert.equal(err.mcpServerName, 'orders');
      assert.match(err.message, /cannot reach the server: connection refused/);
      assertNoSecret(err, [TOKEN]);
      return true;
    });
  });

  test('a host that does not resolve is McpConnectionError', async () => {
    await assert.rejects(callMcpTool({ server: { name: 'nowhere', url: 'http://mcp-server.invalid/mcp' }, token: bearer(TOKEN), tool: 'add', input: {}, timeoutMs: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof McpConnectionError, String(err));
      assert.match(err.message, /^MCP server "nowhere": /);
      return true;
    });
  });

  test('a server that accepts the connection and never answers: McpConnectionError at timeoutMs', async () => {
    await using raw = await startRawServer(() => {});
    const started = Date.now();
    await assert.rejects(listMcpTools({ server: { name: 'silent', url: raw.url }, token: bearer(TOKEN), timeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof McpConnectionError, String(err));
      assert.match(err.message, /no answer within 300 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  });

  test('a tool slower than timeoutMs: McpConnectionError, and the server stops the call', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    const started = Date.now();
    await assert.rejects(callMcpTool({ server: ref(mcp), token: bearer(TOKEN), tool: 'slow', input: { ms: 10_000 }, timeoutMs: 400 }), (err: unknown) => {
      assert.ok(err instanceof McpConnectionError, String(err));
      assert.match(err.message, /no answer within 400 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
    await mcp.waitFor(() => mcp.toolCalls[0]?.status === 'aborted', { what: 'the slow call to be aborted' });
    await mcp.waitFor(() => mcp.sessions.active === 0, { what: 'the session to end' });
  });

  test('an endpoint that is not MCP (HTTP 404, HTML) is McpConnectionError naming what came back', async () => {
    await using mcp = await McpTestServer.start({ auth: 'none' });
    await assert.rejects(listMcpTools({ server: { name: 'typo', url: mcp.url.replace('/mcp', '/mpc') }, token: bearer(undefined) }), (err: unknown) => {
      assert.ok(err instanceof McpConnectionError);
      assert.match(err.message, /HTTP 404/);
      return true;
    });
    await using html = await startRawServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
    });
    await assert.rejects(listMcpTools({ server: { name: 'html', url: html.url }, token: bearer(undefined) }), (err: unknown) => {
      assert.ok(err instanceof McpConnectionError);
      assert.match(err.message, /unexpected answer/);
      return true;
    });
  });

  test('a server echoing the credential in an error body does not get it into the message', async () => {
    await using raw = await startRawServer((request, response) => {
      response.writeHead(500, { 'content-type': 'text/plain' }).end(`internal error handling ${request.headers.authorization}`);
    });
    await assert.rejects(listMcpTools({ server: { name: 'echoing', url: raw.url }, token: bearer(TOKEN) }), (err: unknown) => {
      assert.ok(err instanceof McpConnectionError);
      assert.match(err.message, /HTTP 500: .*internal error handling Bearer \[redacted\]/);
      assertNoSecret(err, [TOKEN]);
      return true;
    });
  });
});

describe('interrupts', () => {
  test('aborting the signal rejects with its reason at once and cancels the call at the server', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    const interrupt = new AbortController();
    const calling = callMcpTool({ server: ref(mcp), token: bearer(TOKEN), tool: 'slow', input: { ms: 30_000 }, signal: interrupt.signal });
    await mcp.waitForToolCall('slow');
    const reason = new Error('user.interrupt');
    const abortedAt = Date.now();
    interrupt.abort(reason);
    await assert.rejects(calling, (err: unknown) => err === reason);
    assert.ok(Date.now() - abortedAt < 1_000);
    await mcp.waitFor(() => mcp.toolCalls[0]?.status === 'aborted', { what: 'the slow call to be aborted' });
    await mcp.waitFor(() => mcp.sessions.active === 0, { what: 'the session to end' });
  });

  test('an already aborted signal makes no request', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    await assert.rejects(callMcpTool({ server: ref(mcp), token: bearer(TOKEN), tool: 'add', input: { a: 1, b: 2 }, signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.equal(mcp.requests.length, 0);
  });
});

describe('connection pool', () => {
  test('reuses one session across calls and ends it when the pool closes', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    const pool = new McpConnectionPool();
    const options = { server: ref(mcp), token: bearer(TOKEN), pool };
    await listMcpTools(options);
    const sums = await Promise.all([1, 2, 3].map((a) => callMcpTool({ ...options, tool: 'add', input: { a, b: 10 } })));
    assert.deepEqual(
      sums.map((sum) => sum.content),
      [[{ type: 'text', text: '11' }], [{ type: 'text', text: '12' }], [{ type: 'text', text: '13' }]],
    );
    assert.equal(mcp.sessions.opened, 1);
    assert.equal(pool.size, 1);
    await pool.close();
    assert.deepEqual(mcp.sessions, { opened: 1, deleted: 1, active: 0 });
    assert.equal(pool.size, 0);
  });

  test('a pooled connection does not keep the context of the call that opened it', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    await using pool = new McpConnectionPool();
    const options = { server: ref(mcp), token: bearer(TOKEN), pool };
    assert.equal(await contextOutlives(() => callMcpTool({ ...options, tool: 'echo', input: { text: 'a' } })), false);
    assert.equal(pool.size, 1, 'the connection stays pooled');
    await callMcpTool({ ...options, tool: 'echo', input: { text: 'b' } });
    assert.equal(mcp.sessions.opened, 1, 'and serves the next call');
  });

  test('a different token gets its own session', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN, 'tok-other-22'] });
    await using pool = new McpConnectionPool();
    await callMcpTool({ server: ref(mcp), token: bearer(TOKEN), pool, tool: 'echo', input: { text: 'a' } });
    await callMcpTool({ server: ref(mcp), token: bearer('tok-other-22'), pool, tool: 'echo', input: { text: 'b' } });
    assert.equal(mcp.sessions.opened, 2);
    assert.deepEqual(
      mcp.toolCalls.map((call) => call.sessionId === mcp.toolCalls[0]?.sessionId),
      [true, false],
    );
  });

  test('a token revoked mid-session is refreshed and the same session goes on', async () => {
    await using mcp = await McpTestServer.start({
      accessTokens: ['tok-first-aa'],
      oauth: { clientId: 'longhaul-client', clientSecret: 's3cret-client', clientAuth: 'client_secret_basic', refreshTokens: ['rt-1'] },
    });
    await using pool = new McpConnectionPool();
    const tokens = oauthTokenSource({ mcp, accessToken: 'tok-first-aa', refreshToken: 'rt-1' });
    const options = { server: ref(mcp), token: tokens.source, pool };
    await callMcpTool({ ...options, tool: 'add', input: { a: 1, b: 1 } });
    mcp.revokeToken('tok-first-aa');
    const outcome = await callMcpTool({ ...options, tool: 'add', input: { a: 2, b: 2 } });
    assert.deepEqual(outcome.content, [{ type: 'text', text: '4' }]);
    await callMcpTool({ ...options, tool: 'add', input: { a: 3, b: 3 } });
    assert.equal(mcp.tokenRefreshCount, 1);
    assert.deepEqual(tokens.calls, [false, false, true, false]);
    assert.equal(mcp.sessions.opened, 1, 'the session survived the refresh and was found again under the new token');
    assert.equal(pool.size, 1);
  });

  test('a session the server forgot (404) is replaced transparently', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    await using pool = new McpConnectionPool();
    const options = { server: ref(mcp), token: bearer(TOKEN), pool };
    await callMcpTool({ ...options, tool: 'echo', input: { text: 'before' } });
    await mcp.dropSessions();
    const outcome = await callMcpTool({ ...options, tool: 'echo', input: { text: 'after' } });
    assert.deepEqual(outcome.content, [{ type: 'text', text: 'after' }]);
    assert.equal(mcp.sessions.opened, 2);
    assert.ok(mcp.requests.some((request) => request.status === 404));
  });

  test('a failed call evicts its session; an aborted one does not disturb another call on the same session', async () => {
    await using mcp = await McpTestServer.start({ accessTokens: [TOKEN] });
    await using pool = new McpConnectionPool();
    const options = { server: ref(mcp), token: bearer(TOKEN), pool };
    await callMcpTool({ ...options, tool: 'echo', input: { text: 'warm' } });
    const interrupt = new AbortController();
    const slow = callMcpTool({ ...options, tool: 'slow', input: { ms: 30_000 }, signal: interrupt.signal });
    const other = callMcpTool({ ...options, tool: 'slow', input: { ms: 300 } });
    await mcp.waitFor(() => mcp.toolCalls.filter((call) => call.name === 'slow').length === 2, { what: 'both slow calls' });
    interrupt.abort(new Error('interrupt'));
    await assert.rejects(slow, /interrupt/);
    assert.deepEqual((await other).content, [{ type: 'text', text: 'waited 300 ms' }]);
    await mcp.waitFor(() => mcp.sessions.active === 0, { what: 'the aborted session to be closed once unused' });
    assert.equal(pool.size, 0);
    await callMcpTool({ ...options, tool: 'echo', input: { text: 'fresh' } });
    assert.equal(mcp.sessions.opened, 2);
  });

  test('keeps at most maxConnections sessions', async () => {
    await using mcp = await McpTestServer.start({ auth: 'none' });
    await using pool = new McpConnectionPool({ maxConnections: 2 });
    for (const name of ['a', 'b', 'c']) {
      await callMcpTool({ server: { name, url: `${mcp.url}?server=${name}` }, token: bearer(undefined), pool, tool: 'echo', input: { text: name } });
    }
    assert.equal(pool.size, 2);
    await mcp.waitFor(() => mcp.sessions.deleted === 1, { what: 'the least recently used session to be closed' });
  });
});
