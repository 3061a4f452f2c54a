/**
 * One initialized MCP client session over streamable HTTP, sending a bearer from a
 * token source and refreshing it once when the server answers 401.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { rootContextFetch } from '../net/root-context-fetch.ts';
import { loadMcpSdk } from './mcp-sdk.ts';

/** Returns the bearer for the server, or undefined for none; `forceRefresh` after a 401. */
export type McpTokenSource = (opts: { forceRefresh: boolean }) => Promise<string | undefined>;

/** A failure of the token source itself, kept apart so it is rethrown as the source threw it. */
export class McpTokenSourceFailure extends Error {
  override readonly name = 'McpTokenSourceFailure';
}

const CLIENT_INFO = { name: 'longhaul', version: '0.1.0' } as const;

/** How long closing waits for the server to acknowledge the session DELETE. */
const CLOSE_GRACE_MS = 2_000;

export type McpConnection = {
  readonly client: Client;
  /** Every bearer this connection has sent, for redacting error text. */
  readonly tokensSent: ReadonlySet<string>;
  /** The bearer requests carry now (changes after a forced refresh). */
  currentToken(): string | undefined;
  /** Ends the server's session (DELETE, when it issued one) and the transport. Never throws. */
  close(): Promise<void>;
};

export type OpenMcpConnectionOptions = {
  url: string;
  tokenSource: McpTokenSource;
  /** The bearer to start with, already read from `tokenSource`. */
  token: string | undefined;
  signal: AbortSignal;
  /** Limit for the `initialize` exchange. */
  timeoutMs: number;
};

/**
 * Connects and runs `initialize`. Rejects with whatever the SDK or fetch threw, or
 * `McpTokenSourceFailure`; callers classify.
 */
export async function openMcpConnection({ url, tokenSource, token, signal, timeoutMs }: OpenMcpConnectionOptions): Promise<McpConnection> {
  const { Client, StreamableHTTPClientTransport } = await loadMcpSdk();
  const bearer = new RefreshingBearer({ tokenSource, token });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: bearer.fetch });
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  // The SDK reports background trouble (a dropped server-event stream) here; the
  // request that cares fails on its own, so there is nothing to add.
  client.onerror = () => {};
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await withTimeout(transport.terminateSession(), CLOSE_GRACE_MS).catch(() => {});
      await client.close().catch(() => {});
    })();
    return closing;
  };
  try {
    await client.connect(transport, { signal, timeout: timeoutMs });
  } catch (err) {
    void close();
    throw err;
  }
  return { client, tokensSent: bearer.tokensSent, currentToken: () => bearer.current, close };
}

/**
 * The fetch given to the transport. Each request goes out with the current bearer;
 * a 401 to a request that carried the current bearer asks the source for a fresh
 * one (concurrent 401s share that refresh), and the request is retried once. A 401
 * to a stale bearer is retried with the one another request already refreshed.
 */
class RefreshingBearer {
  current: string | undefined;
  readonly tokensSent = new Set<string>();
  readonly #tokenSource: McpTokenSource;
  #refreshing: Promise<string | undefined> | undefined;

  constructor({ tokenSource, token }: { tokenSource: McpTokenSource; token: string | undefined }) {
    this.#tokenSource = tokenSource;
    this.current = token;
  }

  readonly fetch: FetchLike = async (url, init) => {
    const sent = this.current;
    const first = await rootContextFetch(url, this.#withBearer(init, sent));
    if (first.status !== 401) return first;
    const fresh = sent === this.current ? await this.#refresh() : this.current;
    if (fresh === sent) return first;
    await first.body?.cancel();
    return rootContextFetch(url, this.#withBearer(init, fresh));
  };

  #withBearer(init: RequestInit | undefined, token: string | undefined): RequestInit {
    const headers = new Headers(init?.headers);
    if (token === undefined) headers.delete('authorization');
    else {
      headers.set('authorization', `Bearer ${token}`);
      this.tokensSent.add(token);
    }
    return { ...init, headers };
  }

  #refresh(): Promise<string | undefined> {
    this.#refreshing ??= this.#tokenSource({ forceRefresh: true })
      .then(
        (token) => {
          this.current = token;
          return token;
        },
        (err: unknown) => {
          throw new McpTokenSourceFailure('the token source failed to refresh', { cause: err });
        },
      )
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
