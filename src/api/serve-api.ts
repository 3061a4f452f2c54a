import type { AddressInfo } from 'node:net';
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
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Event streams stay open until the client leaves; end them so close() returns.
      if ('closeAllConnections' in server) server.closeAllConnections();
    });
  return { url: `http://${urlHost}:${address.port}`, close, [Symbol.asyncDispose]: close };
}
