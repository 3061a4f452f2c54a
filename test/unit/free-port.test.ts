import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../../src/net/free-port.ts';

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

test('a free port is outside the ephemeral range, so no outgoing connection can take it before the server binds it', async () => {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) assert.ok(port < low! || port > high!, `${port} is in the ephemeral range ${low}-${high}`);
  // Bindable now, and again after it was stopped: what a restarted server needs.
  for (let i = 0; i < 2; i++) {
    const server = await listen(ports[0]!);
    await new Promise((r) => server.close(r));
  }
});

test('ports asked for together are all different: a server given two of the same fails to bind the second', async () => {
  // 400 random picks from ~16,000 ports would share a number almost always (the birthday bound).
  const ports = await Promise.all(Array.from({ length: 400 }, () => freePort()));
  assert.equal(new Set(ports).size, ports.length);
});
