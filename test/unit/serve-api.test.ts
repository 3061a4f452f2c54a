import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Hono } from 'hono';
import { serveApi } from '../../src/api/serve-api.ts';

/** Listening TCP sockets on `port` (IPv4), from the kernel's table. */
function listeningSockets(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => {
      const [, local, , state] = line.trim().split(/\s+/);
      return local?.endsWith(`:${hexPort}`) && state === '0A';
    }).length;
}

const app = new Hono().get('/ping', (c) => c.text('pong'));
const portOf = (url: string) => Number(new URL(url).port);

test('on Linux the API listens on eight sockets sharing its port, and serves through them; closed, none is left', { skip: process.platform !== 'linux' && 'needs SO_REUSEPORT and /proc/net/tcp' }, async () => {
  const api = await serveApi({ app, port: 0 });
  const port = portOf(api.url);
  assert.equal(listeningSockets(port), 8);
  const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${api.url}/ping`, { headers: { connection: 'close' } }).then((r) => r.text())));
  assert.deepEqual(new Set(answers), new Set(['pong']));
  await api.close();
  assert.equal(listeningSockets(port), 0);
});

test('a second server on a port in use fails as a plain one would, and the first keeps serving', async () => {
  await using api = await serveApi({ app, port: 0 });
  await assert.rejects(serveApi({ app, port: portOf(api.url) }), (error: NodeJS.ErrnoException) => error.code === 'EADDRINUSE');
  assert.equal(await (await fetch(`${api.url}/ping`)).text(), 'pong');
  if (process.platform === 'linux') assert.equal(listeningSockets(portOf(api.url)), 8, 'the failed server left nothing behind');
});

test('one accept socket listens alone', { skip: process.platform !== 'linux' && 'reads /proc/net/tcp' }, async () => {
  await using api = await serveApi({ app, port: 0, acceptSockets: 1 });
  assert.equal(listeningSockets(portOf(api.url)), 1);
  assert.equal(await (await fetch(`${api.url}/ping`)).text(), 'pong');
});
