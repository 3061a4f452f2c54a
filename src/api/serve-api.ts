import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';

export type ServedApi = {
  /** Base URL for clients, e.g. `http://127.0.0.1:4080`. */
  url: string;
  /** Stops accepting connections and ends open ones (event streams included). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * Serves `app` over HTTP on `host:port` (`port: 0` picks a free one).
 *
 * @example
 * await using api = await serveApi({ app, port: 0 });
 * const client = new Anthropic({ baseURL: api.url, apiKey });
 */
export async function serveApi({ app, port, host = '127.0.0.1' }: { app: Pick<Hono, 'fetch'>; port: number; host?: string }): Promise<ServedApi> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(started));
    started.once('error', reject);
  });
  // Node's parser refuses headers over 16 KB; answer with the envelope instead of a bare close.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return;
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
    const message = tooLarge ? 'request headers: larger than the 16 KB this server reads' : 'malformed HTTP request';
    const body = JSON.stringify({ type: 'error', error: { type: tooLarge ? 'request_too_large' : 'invalid_request_error', message } });
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  // Once: a second close (a test that stopped the API, then its fixture's dispose) waits for the first.
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Event streams stay open until the client leaves; end them so close() returns.
      if ('closeAllConnections' in server) server.closeAllConnections();
    }));
  return { url: `http://${urlHost}:${address.port}`, close, [Symbol.asyncDispose]: close };
}
