import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { startDevModel } from '../../src/cli/dev-model.ts';
import { rootContextFetch } from '../../src/net/root-context-fetch.ts';
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
