/**
 * Initialized MCP sessions kept for reuse, so each tool call is one request
 * instead of initialize + call + DELETE.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { McpConnection } from './mcp-connection.ts';

export type McpConnectionPoolOptions = {
  /** Sessions kept at most; the least recently used one is closed past this. Default 32. */
  maxConnections?: number | undefined;
  /** A session unused this long is closed. Default 60000. */
  idleMs?: number | undefined;
};

/** A connection handed to one operation; `release` exactly once. */
export type McpConnectionLease = {
  readonly connection: McpConnection;
  /** The session existed before this lease (so the server may since have forgotten it). */
  readonly reused: boolean;
  /**
   * `healthy: false` after any failure of the exchange: the session is closed once
   * unused. Settles when whatever the release must wait for is done (nothing, for a
   * pooled session; its DELETE, for a session of its own).
   */
  release(opts: { healthy: boolean }): Promise<void>;
};

type Entry = {
  key: string;
  readonly url: string;
  readonly opening: Promise<McpConnection>;
  users: number;
  retired: boolean;
  idleTimer: NodeJS.Timeout | undefined;
};

/**
 * Sessions keyed by server URL and bearer, so a rotated or different credential
 * never shares a session. Bounded (LRU), closes idle sessions, and evicts a session
 * after any failure. Create one per worker and dispose of it at shutdown: a kept
 * session holds an HTTP stream open. A kept session refreshes its bearer (after a
 * 401) through the token source of the call that opened it, so token sources for
 * one credential should be interchangeable (as a vault-backed source is).
 *
 * @example
 * ```ts
 * await using pool = new McpConnectionPool({ maxConnections: 16 });
 * const tools = await listMcpTools({ server, token, pool });
 * ```
 */
export class McpConnectionPool implements AsyncDisposable {
  readonly #maxConnections: number;
  readonly #idleMs: number;
  /** Sessions new leases may use, least recently used first. */
  readonly #available = new Map<string, Entry>();
  /** Every session not yet closed, including retired ones still in use. */
  readonly #live = new Set<Entry>();
  #closed = false;
  /**
   * Runs in the context the pool was made in. A kept session's stream, timers and sockets
   * live on after the call that opened it, and each keeps the async context it was made in:
   * made in a call's (a Temporal activity's), they would keep that call reachable.
   */
  readonly #inPoolContext = AsyncLocalStorage.snapshot();

  constructor({ maxConnections = 32, idleMs = 60_000 }: McpConnectionPoolOptions = {}) {
    if (!(maxConnections >= 1)) throw new RangeError('maxConnections must be at least 1');
    this.#maxConnections = maxConnections;
    this.#idleMs = idleMs;
  }

  /** Sessions currently open or opening (for tests and metrics). */
  get size(): number {
    return this.#live.size;
  }

  /** Leases the session for `url` + `token`, opening it with `open` when there is none. */
  async lease({ url, token, open }: { url: string; token: string | undefined; open: () => Promise<McpConnection> }): Promise<McpConnectionLease> {
    if (this.#closed) throw new Error('McpConnectionPool is closed');
    const key = poolKey(url, token);
    const existing = this.#available.get(key);
    const entry = existing ?? this.#add({ key, url, opening: this.#inPoolContext(open) });
    entry.users++;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    if (existing) {
      this.#available.delete(key);
      this.#available.set(key, existing);
    }
    let connection: McpConnection;
    try {
      connection = await entry.opening;
    } catch (err) {
      entry.users--;
      this.#retire(entry);
      throw err;
    }
    let released = false;
    return {
      connection,
      reused: existing !== undefined,
      release: async ({ healthy }) => {
        if (released) return;
        released = true;
        entry.users--;
        if (healthy) this.#rekeyIfTokenChanged(entry, connection);
        if (!healthy || entry.retired) this.#retire(entry);
        else if (entry.users === 0) this.#startIdleTimer(entry);
      },
    };
  }

  /** Closes every session, in use or not. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#live];
    this.#available.clear();
    this.#live.clear();
    await Promise.all(entries.map(closeEntry));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #add({ key, url, opening }: { key: string; url: string; opening: Promise<McpConnection> }): Entry {
    // The failure is handled by whoever awaits the lease; this only stops an unhandled rejection.
    opening.catch(() => {});
    const entry: Entry = { key, url, opening, users: 0, retired: false, idleTimer: undefined };
    this.#available.set(key, entry);
    this.#live.add(entry);
    for (const [, oldest] of this.#available) {
      if (this.#available.size <= this.#maxConnections) break;
      this.#retire(oldest);
    }
    return entry;
  }

  /** Keeps a session whose bearer was refreshed findable under the bearer the source now returns. */
  #rekeyIfTokenChanged(entry: Entry, connection: McpConnection): void {
    const key = poolKey(entry.url, connection.currentToken());
    if (key === entry.key || entry.retired) return;
    if (this.#available.get(entry.key) === entry) this.#available.delete(entry.key);
    if (this.#available.has(key)) {
      entry.retired = true;
      return;
    }
    entry.key = key;
    this.#available.set(key, entry);
  }

  /** No new leases; closed as soon as the last user releases it. */
  #retire(entry: Entry): void {
    entry.retired = true;
    if (this.#available.get(entry.key) === entry) this.#available.delete(entry.key);
    if (entry.users > 0 || !this.#live.delete(entry)) return;
    void closeEntry(entry);
  }

  #startIdleTimer(entry: Entry): void {
    entry.idleTimer = this.#inPoolContext(() => setTimeout(() => this.#retire(entry), this.#idleMs));
    entry.idleTimer.unref();
  }
}

async function closeEntry(entry: Entry): Promise<void> {
  clearTimeout(entry.idleTimer);
  const connection = await entry.opening.catch(() => undefined);
  await connection?.close();
}

/** The bearer is hashed so the map never holds it in a form a debugger or dump would show. */
function poolKey(url: string, token: string | undefined): string {
  const tokenPart = token === undefined ? '-' : createHash('sha256').update(token).digest('base64url');
  return `${url} ${tokenPart}`;
}
