import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';

/**
 * Runs a function in the async context this module was loaded in: the process's own, since
 * the worker and the API import it before any call runs.
 */
const inLoadContext = AsyncLocalStorage.snapshot();
const connector = buildConnector({});

/**
 * Connections opened outside the caller's async context. A socket keeps the context it was
 * opened in (its handle's `AsyncContextFrame`) for as long as it lives, and a keep-alive
 * socket outlives the request that opened it: opened by a Temporal activity, it kept that
 * activity's context (its info, cancellation, logger, and whatever our own stores held)
 * reachable until the socket closed, whichever later calls it served.
 */
export const rootContextDispatcher = new Agent({
  connect: (options, callback) => inLoadContext(() => connector(options, callback)),
});

/**
 * `fetch` on `rootContextDispatcher`: what the model client, MCP connections, webhook
 * deliveries and token refreshes send through by default.
 *
 * @example
 * const anthropic = new Anthropic({ fetch: rootContextFetch });
 */
export const rootContextFetch: typeof fetch = (input, init) =>
  undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher: rootContextDispatcher }) as unknown as Promise<Response>;
