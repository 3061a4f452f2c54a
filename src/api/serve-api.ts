import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdaptorServer, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';

export type ServedApi = {
  /** Base URL for clients, e.g. `http://127.0.0.1:4080`. */
  url: string;
  /** Stops accepting connections and ends open ones (event streams included). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * Listening sockets on Linux. Node (libuv since 2022) accepts one connection per socket
 * per turn of the event loop, and a turn of a busy `longhaul dev` takes around 100 ms:
 * fifty clients connecting at once waited up to 4.5 s just to be accepted, their
 * requests already sent. Sockets sharing the port (`SO_REUSEPORT`) each accept one per
 * turn, and the kernel spreads new connections over them.
 */
const LINUX_ACCEPT_SOCKETS = 8;

/**
 * Serves `app` over HTTP on `host:port` (`port: 0` picks a free one).
 *
 * @example
 * await using api = await serveApi({ app, port: 0 });
 * const client = new Anthropic({ baseURL: api.url, apiKey });
 */
export async function serveApi({
  app,
  port,
  host = '127.0.0.1',
  acceptSockets = process.platform === 'linux' ? LINUX_ACCEPT_SOCKETS : 1,
}: {
  app: Pick<Hono, 'fetch'>;
  port: number;
  host?: string;
  /** Listening sockets sharing the port; more than one needs `SO_REUSEPORT` (Linux). Default 8 on Linux, else 1. */
  acceptSockets?: number;
}): Promise<ServedApi> {
  // A plain bind first: it fails if anything listens there already, even with SO_REUSEPORT
  // (another `longhaul dev`), which the shared sockets alone would quietly join.
  const newServer = () => createAdaptorServer({ fetch: app.fetch, hostname: host });
  const first = await listenOn(newServer(), { port, host });
  const servers = [first];
  if (acceptSockets > 1) {
    const chosen = (first.address() as AddressInfo).port;
    await closeServer(first);
    servers.length = 0;
    try {
      for (let i = 0; i < acceptSockets; i++) servers.push(await listenOn(newServer(), { port: chosen, host, reusePort: true }));
    } catch (error) {
      await Promise.all(servers.map(closeServer));
      throw error;
    }
  }
  // Node's parser refuses headers over 16 KB; answer with the envelope instead of a bare close.
  for (const server of servers) server.on('clientError', answerClientError);
  const server = servers[0]!;
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  // Once: a second close (a test that stopped the API, then its fixture's dispose) waits for the first.
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= Promise.all(servers.map(closeServer)).then(() => {}));
  return { url: `http://${urlHost}:${address.port}`, close, [Symbol.asyncDispose]: close };
}

function listenOn(server: ServerType, options: { port: number; host: string; reusePort?: boolean }): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => resolve(server));
  });
}

function closeServer(server: ServerType): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Event streams stay open until the client leaves; end them so close() returns.
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}

function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return;
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const message = tooLarge ? 'request headers: larger than the 16 KB this server reads' : 'malformed HTTP request';
  const body = JSON.stringify({ type: 'error', error: { type: tooLarge ? 'request_too_large' : 'invalid_request_error', message } });
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
