import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A layer-4 balancer on loopback, as HAProxy in TCP mode would front several `longhaul
 * serve`: each client connection goes to the next backend that accepts it; a backend
 * that refuses is skipped. Connections to a backend that dies are cut, as a real
 * balancer cuts them: clients see the reset and reconnect.
 */
export type TcpBalancer = {
  url: string;
  /** Connections handed to each backend port so far. */
  connections: Map<number, number>;
  close(): Promise<void>;
};

export async function startTcpBalancer(backendPorts: () => readonly number[]): Promise<TcpBalancer> {
  const connections = new Map<number, number>();
  const open = new Set<Socket>();
  let next = 0;
  const connectTo = (client: Socket, candidates: readonly number[], tried = 0) => {
    if (tried >= candidates.length) return client.destroy();
    const port = candidates[(next + tried) % candidates.length]!;
    const upstream = createConnection({ host: '127.0.0.1', port });
    upstream.once('connect', () => {
      connections.set(port, (connections.get(port) ?? 0) + 1);
      open.add(upstream);
      upstream.once('close', () => open.delete(upstream));
      // Paused since accept: piping starts the flow, so no byte arrives before its upstream.
      client.pipe(upstream).pipe(client);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      if (upstream.connecting || error.code === 'ECONNREFUSED') connectTo(client, candidates, tried + 1);
    });
  };
  const server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => {});
    const candidates = backendPorts();
    connectTo(client, candidates);
    next = (next + 1) % Math.max(candidates.length, 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
