import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { startDevModel } from '../../src/cli/dev-model.ts';
import { rootContextDispatcherFor, rootContextFetch, usesEnvProxy } from '../../src/net/root-context-fetch.ts';
import { fetch as undiciFetch } from 'undici';
import { contextOutlives } from '../support/unreachable.ts';

let server: Server;
let url: string;
let connections = 0;

before(async () => {
  server = createServer((_request, response) => response.end('ok'));
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('a keep-alive connection opened by a call does not keep the call’s async context', async () => {
  const before = connections;
  assert.equal(await contextOutlives(() => rootContextFetch(url).then((response) => response.text())), false);
  // The connection is still open for the next request: it is the context that was let go, not the socket.
  assert.equal(await (await rootContextFetch(url)).text(), 'ok');
  assert.equal(connections - before, 1, 'one connection served both requests');
});

test('a streamed model request of the dev model client does not keep the call’s async context either', async () => {
  const model = await startDevModel({ env: {} });
  try {
    const call = () => model.anthropic.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] }).finalMessage();
    assert.equal(await contextOutlives(call), false);
  } finally {
    await model.close();
  }
});

test('Node’s proxy opt-in is honoured: NODE_USE_ENV_PROXY=1 or --use-env-proxy, and nothing else', () => {
  assert.equal(usesEnvProxy({ env: { NODE_USE_ENV_PROXY: '1' }, execArgv: [] }), true);
  assert.equal(usesEnvProxy({ env: {}, execArgv: ['--use-env-proxy'] }), true);
  assert.equal(usesEnvProxy({ env: { NODE_OPTIONS: '--max-old-space-size=512 --use-env-proxy' }, execArgv: [] }), true);
  assert.equal(usesEnvProxy({ env: { HTTPS_PROXY: 'http://proxy.invalid:3128' }, execArgv: [] }), false, 'a proxy variable alone: Node’s fetch ignores it, and so do we');
  assert.equal(usesEnvProxy({ env: { NODE_USE_ENV_PROXY: '0' }, execArgv: [] }), false);
});

test('with the opt-in, requests go through the proxy the environment names; without it, straight to the server', async () => {
  // Plain HTTP goes to the proxy as a request for the absolute URL.
  const proxied: string[] = [];
  const proxy = createServer((request, response) => {
    proxied.push(request.url ?? '');
    response.end('via proxy');
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  try {
    const viaProxy = rootContextDispatcherFor({ env: { NODE_USE_ENV_PROXY: '1', HTTP_PROXY: proxyUrl }, execArgv: [] });
    assert.equal(await (await undiciFetch(url, { dispatcher: viaProxy })).text(), 'via proxy');
    assert.deepEqual(proxied, [url]);
    await viaProxy.close();
    const exempt = rootContextDispatcherFor({ env: { NODE_USE_ENV_PROXY: '1', HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' }, execArgv: [] });
    assert.equal(await (await undiciFetch(url, { dispatcher: exempt })).text(), 'ok', 'NO_PROXY is honoured');
    await exempt.close();
    const direct = rootContextDispatcherFor({ env: { HTTP_PROXY: proxyUrl }, execArgv: [] });
    assert.equal(await (await undiciFetch(url, { dispatcher: direct })).text(), 'ok');
    assert.equal(proxied.length, 1, 'nothing through the proxy without the opt-in');
    await direct.close();
  } finally {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  }
});
