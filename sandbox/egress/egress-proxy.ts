import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { chmod, readdir, rename, symlink, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, TLSSocket } from 'node:tls';
import { basename, dirname, join } from 'node:path';
import { isInternalAddress } from '../../src/net/internal-address.ts';
import { isOwnAddress } from './own-addresses.ts';
import { connectablePath } from '../executor-client.ts';
import { decideEgress, type EgressPolicy, secretsFor } from './egress-policy.ts';
import { parseHostPort } from './host-pattern.ts';
import { deniedPrefix, fail, forwardedHeaders, rawResponse, requestHasBody, responseHeaders, substituteBuffer } from './http-forwarding.ts';
import type { InterceptionCa } from './interception-ca.ts';

/** Resolves a host name to IP addresses, the way the proxy connects (default: the system resolver). */
export type ResolveHost = (host: string) => Promise<string[]>;

/** What the proxy logs: Temporal's logger fits, as does `console`. */
export type EgressLogger = { debug(message: string, meta?: Record<string, unknown>): void };

export type EgressProxyOptions = {
  /** Stable path the sandbox connects to (a symlink to this proxy's own socket). */
  socketPath: string;
  policy: EgressPolicy;
  /** Default: `dns.lookup` with every address. */
  resolveHost?: ResolveHost | undefined;
  logger?: EgressLogger | undefined;
  /** Extra log fields, e.g. `{ sessionId }`. */
  logContext?: Record<string, unknown> | undefined;
  /** Largest request body buffered to substitute a secret into it. Default 32 MiB. */
  maxSubstitutedBodyBytes?: number | undefined;
  /** Bodies buffered at once, all requests together; past it a request gets 503. Default 64 MiB. */
  maxBufferedBytes?: number | undefined;
  /** Connections from the sandbox served at once. Default 512. */
  maxConnections?: number | undefined;
  /**
   * Opens `CONNECT` tunnels toward hosts that have secrets with this CA (which the
   * sandbox must trust), so secrets reach https requests too. Default: tunnels pass
   * through untouched.
   */
  interceptionCa?: InterceptionCa | undefined;
  /** CAs trusted for the real destinations of intercepted tunnels. Default: Node's. */
  upstreamCa?: readonly string[] | undefined;
  /** Time to connect to a destination. Default 30 000. */
  connectTimeoutMs?: number | undefined;
};

const systemResolve: ResolveHost = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/**
 * An HTTP forward proxy on a Unix socket: the only way out of a sandbox that has
 * no network interface. Plain-HTTP requests (absolute form) and `CONNECT` tunnels
 * go only to the policy's hosts; the proxy resolves names itself and connects to
 * the checked address, so DNS cannot smuggle a request into the worker's network.
 * Secrets are substituted for their placeholders in requests toward their
 * hosts: plain HTTP directly; https when the proxy has an interception CA (which
 * the sandbox trusts), by ending the tunnel's TLS here and sending the request on
 * over TLS that verifies the real destination. Tunnels toward hosts without
 * secrets are passed through untouched.
 *
 * The sandbox reaches `socketPath`, a symlink swapped atomically to this proxy's
 * own socket file: a second worker serving the same session takes over new
 * connections, and this one closing removes only its own file.
 *
 * @example
 * const proxy = await EgressProxy.listen({ socketPath: join(sessionDir, 'egress.sock'), policy });
 * proxy.update(newPolicy);
 * await proxy.close();
 */
export class EgressProxy {
  readonly socketPath: string;
  #policy: EgressPolicy;
  readonly #server: Server;
  readonly #ownPath: string;
  readonly #resolve: ResolveHost;
  readonly #log: (message: string, meta: Record<string, unknown>) => void;
  readonly #maxBodyBytes: number;
  readonly #maxBufferedBytes: number;
  #bufferedBytes = 0;
  readonly #connectTimeoutMs: number;
  readonly #sockets = new Set<Socket>();
  readonly #ca: InterceptionCa | undefined;
  readonly #upstreamCa: readonly string[] | undefined;
  /** Serves the requests inside intercepted tunnels; fed sockets, never listening. */
  readonly #tunnelServer: Server;
  readonly #tunnelTargets = new WeakMap<Socket, { host: string; port: number }>();

  private constructor(options: EgressProxyOptions, ownPath: string) {
    this.socketPath = options.socketPath;
    this.#policy = options.policy;
    this.#ownPath = ownPath;
    this.#resolve = options.resolveHost ?? systemResolve;
    const { logger, logContext = {} } = options;
    this.#log = (message, meta) => logger?.debug(message, { ...logContext, ...meta });
    this.#maxBodyBytes = options.maxSubstitutedBodyBytes ?? 32 * 1024 * 1024;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 64 * 1024 * 1024;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.#ca = options.interceptionCa;
    this.#upstreamCa = options.upstreamCa;
    this.#server = createServer((req, res) => {
      this.#handleRequest(req, res).catch((error: unknown) => fail(res, 502, `egress proxy error: ${String(error)}`));
    });
    this.#tunnelServer = createServer((req, res) => {
      const target = this.#tunnelTargets.get(req.socket);
      if (target === undefined) {
        fail(res, 500, 'egress proxy lost the tunnel this request came through');
        return;
      }
      this.#forward(req, res, { tls: true, ...target, path: req.url ?? '/' }).catch((error: unknown) =>
        fail(res, 502, `egress proxy error: ${String(error)}`),
      );
    });
    this.#server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.#handleConnect(req, socket, head).catch(() => socket.destroy());
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      this.#log('egress denied', { method: req.method, reason: 'upgrade over plain HTTP' });
      socket.end(rawResponse(501, 'the egress proxy does not forward protocol upgrades over plain HTTP; use https (CONNECT)'));
    });
    // The sandbox must not be able to exhaust the worker's file descriptors.
    this.#server.maxConnections = options.maxConnections ?? 512;
    // After listening, an accept failure (EMFILE) must not take the worker down.
    this.#server.on('error', (error) => this.#log('egress proxy error', { error: error.message }));
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts serving on a fresh socket file next to `socketPath` and points `socketPath` at it. */
  static async listen(options: EgressProxyOptions): Promise<EgressProxy> {
    const dir = dirname(options.socketPath);
    const ownName = `${basename(options.socketPath, '.sock')}-${randomBytes(6).toString('hex')}.sock`;
    const proxy = new EgressProxy(options, join(dir, ownName));
    await removeStaleSockets(dir, basename(options.socketPath, '.sock'));
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(connectablePath(proxy.#ownPath), () => {
        proxy.#server.off('error', reject);
        resolve();
      });
    });
    // The sandbox user is another uid than the worker.
    await chmod(proxy.#ownPath, 0o666);
    const temporary = join(dir, `.${ownName}.link`);
    await symlink(ownName, temporary);
    await rename(temporary, options.socketPath);
    return proxy;
  }

  /** Replaces the policy for new requests (rotated secrets, changed hosts); open tunnels keep going. */
  update(policy: EgressPolicy): void {
    this.#policy = policy;
  }

  get policy(): EgressPolicy {
    return this.#policy;
  }

  /** Stops serving and cuts open connections. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    await unlink(this.#ownPath).catch(() => undefined);
  }

  async #handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      fail(res, 400, 'this is an egress proxy: send requests in absolute form (http://host/path), or CONNECT for https');
      return;
    }
    if (url.protocol !== 'http:') {
      fail(res, 400, `the egress proxy forwards plain http:// requests; for ${url.protocol} use CONNECT`);
      return;
    }
    const host = url.hostname.replace(/\.$/, '');
    const port = url.port === '' ? 80 : Number(url.port);
    await this.#forward(req, res, { tls: false, host, port, path: `${url.pathname}${url.search}` });
  }

  /** Sends one request on to `host:port` (checked here), secrets substituted for that host. */
  async #forward(
    req: IncomingMessage,
    res: ServerResponse,
    { tls, host, port, path }: { tls: boolean; host: string; port: number; path: string },
  ): Promise<void> {
    const policy = this.#policy;
    const target = await this.#admit(policy, host, port, req.method ?? 'GET');
    if (typeof target === 'string') {
      fail(res, 403, target);
      return;
    }
    const secrets = secretsFor(policy, host, port);
    const headers = forwardedHeaders(req.headers, secrets.filter((s) => s.header));
    // The Host the policy checked, not one the client picked: no reaching another
    // virtual host behind an allowed address.
    headers['host'] = port === (tls ? 443 : 80) ? host : `${host}:${port}`;
    const bodySecrets = secrets.filter((s) => s.body);
    const encoded = (req.headers['content-encoding'] ?? 'identity') !== 'identity';
    let body: Buffer | undefined;
    if (bodySecrets.length > 0 && !encoded && requestHasBody(req)) {
      const read = await this.#readBody(req);
      if (typeof read === 'number') {
        if (read === 413) fail(res, 413, `request body over ${this.#maxBodyBytes} bytes: too large to substitute secrets into`);
        else fail(res, 503, 'the egress proxy is buffering too many request bodies; retry later');
        return;
      }
      body = read;
      body = substituteBuffer(body, bodySecrets);
      headers['content-length'] = String(body.length);
    } else if (req.headers['content-length'] !== undefined) {
      headers['content-length'] = req.headers['content-length'];
    }
    const options = { host: target.address, port, method: req.method, path, headers, setHost: false, agent: false };
    const bare = host.replace(/^\[|\]$/g, '');
    const upstream = tls
      ? httpsRequest({
          ...options,
          // The certificate must match the host the sandbox asked for, not the address.
          ...(isIP(bare) === 0 ? { servername: bare } : {}),
          checkServerIdentity: (_name, cert) => checkServerIdentity(bare, cert),
          ...(this.#upstreamCa !== undefined ? { ca: [...this.#upstreamCa] } : {}),
        })
      : httpRequest(options);
    upstream.once('socket', (socket: Socket) => {
      const timer = setTimeout(() => upstream.destroy(new Error(`connecting timed out after ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs);
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    upstream.once('error', (error) => fail(res, 502, `egress proxy could not reach ${host}:${port}: ${error.message}`));
    upstream.once('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeaders(answer.rawHeaders));
      answer.pipe(res);
      answer.once('error', () => res.destroy());
    });
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (body !== undefined) upstream.end(body);
    else req.pipe(upstream);
  }

  /** The whole body, or 413 (too large) / 503 (too much buffered by all requests together). */
  async #readBody(req: IncomingMessage): Promise<Buffer | 413 | 503> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req) {
        const buffer = chunk as Buffer;
        size += buffer.length;
        this.#bufferedBytes += buffer.length;
        if (size > this.#maxBodyBytes) return 413;
        if (this.#bufferedBytes > this.#maxBufferedBytes) return 503;
        chunks.push(buffer);
      }
      return Buffer.concat(chunks);
    } finally {
      this.#bufferedBytes -= size;
    }
  }

  async #handleConnect(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    client.on('error', () => client.destroy());
    const parsed = parseHostPort(req.url ?? '');
    if (parsed === undefined || parsed.port === undefined) {
      client.end(rawResponse(400, 'CONNECT needs host:port'));
      return;
    }
    const host = parsed.host;
    const port = parsed.port;
    const target = await this.#admit(this.#policy, host, port, 'CONNECT');
    if (typeof target === 'string') {
      client.end(rawResponse(403, target));
      return;
    }
    if (this.#ca !== undefined && secretsFor(this.#policy, host, port).length > 0) {
      this.#intercept(client, head, host, port);
      return;
    }
    const upstream = connect({ host: target.address, port, timeout: this.#connectTimeoutMs });
    this.#sockets.add(upstream);
    upstream.once('close', () => this.#sockets.delete(upstream));
    upstream.once('timeout', () => upstream.destroy(new Error(`connecting to ${host}:${port} timed out`)));
    upstream.once('error', (error) => {
      if (client.writable && upstream.bytesRead === 0) client.end(rawResponse(502, `egress proxy could not reach ${host}:${port}: ${error.message}`));
      else client.destroy();
    });
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
  }

  /**
   * Ends the sandbox's TLS here with a certificate for `host` from the sandbox's own
   * CA, and serves the requests inside like plain ones (secrets substituted), sent
   * on over TLS that verifies the real destination.
   */
  #intercept(client: Socket, head: Buffer, host: string, port: number): void {
    const ca = this.#ca;
    if (ca === undefined) return;
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) client.unshift(head);
    const tlsSocket = new TLSSocket(client, { isServer: true, secureContext: ca.contextFor(host), ALPNProtocols: ['http/1.1'] });
    tlsSocket.on('error', () => tlsSocket.destroy());
    this.#tunnelTargets.set(tlsSocket, { host, port });
    this.#log('egress tunnel opened for secret substitution', { method: 'CONNECT', host, port });
    this.#tunnelServer.emit('connection', tlsSocket);
  }

  /** The address to connect to, or why not. */
  async #admit(policy: EgressPolicy, host: string, port: number, method: string): Promise<{ address: string } | string> {
    const decision = decideEgress(policy, host, port);
    if (!decision.allowed) {
      this.#log('egress denied', { method, host, port, reason: 'not allowed' });
      return `${deniedPrefix} ${decision.reason}\n`;
    }
    let addresses: string[];
    const literal = host.replace(/^\[|\]$/g, '');
    try {
      addresses = isIP(literal) !== 0 ? [literal] : await this.#resolve(host);
    } catch (error) {
      this.#log('egress denied', { method, host, port, reason: 'unresolvable' });
      return `${deniedPrefix} cannot resolve ${host}: ${(error as Error).message}\n`;
    }
    const usable = decision.internalAllowed ? addresses : addresses.filter((a) => !isInternalAddress(a) && !isOwnAddress(a));
    const address = usable[0];
    if (address === undefined) {
      this.#log('egress denied', { method, host, port, reason: 'internal address' });
      const shown = addresses[0] ?? 'no address';
      return `${deniedPrefix} ${host} resolves to the internal address ${shown}; name the host exactly in a limited environment's allowed_hosts to allow it\n`;
    }
    this.#log('egress allowed', { method, host, port, address });
    return { address };
  }
}

/** Socket files of proxies that are gone (a crashed worker's); live ones are replaced by the symlink anyway. */
async function removeStaleSockets(dir: string, stem: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => n.startsWith(`${stem}-`) && n.endsWith('.sock')).map((n) => unlink(join(dir, n)).catch(() => undefined)),
  );
}
