import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent, buildConnector, EnvHttpProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';

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
const rootContextDispatcher: Dispatcher = rootContextDispatcherFor({ env: process.env, execArgv: process.execArgv });

/**
 * With Node told to send `fetch` through `HTTP_PROXY` / `HTTPS_PROXY` (`NODE_USE_ENV_PROXY=1`
 * or `--use-env-proxy`), the same proxies, as Node's own fetch would use them: a worker behind
 * a proxy keeps reaching the model. Only direct connections are then opened outside the
 * caller's context; a proxy's connections are undici's own.
 */
export function rootContextDispatcherFor({ env, execArgv }: { env: NodeJS.ProcessEnv; execArgv: readonly string[] }): Dispatcher {
  const connect: buildConnector.connector = (options, callback) => inLoadContext(() => connector(options, callback));
  if (!usesEnvProxy({ env, execArgv })) return new Agent({ connect });
  // Read from `env`, not from undici's own look at the process's environment.
  const proxies: Record<string, string> = {};
  for (const [option, name] of [['httpProxy', 'HTTP_PROXY'], ['httpsProxy', 'HTTPS_PROXY'], ['noProxy', 'NO_PROXY']] as const) {
    const value = env[name.toLowerCase()] ?? env[name];
    if (value !== undefined) proxies[option] = value;
  }
  return new EnvHttpProxyAgent({ connect, ...proxies });
}

/** Whether Node's own `fetch` would honour the proxy variables: `NODE_USE_ENV_PROXY=1`, or `--use-env-proxy` on its command line or in `NODE_OPTIONS`. */
export function usesEnvProxy({ env, execArgv }: { env: NodeJS.ProcessEnv; execArgv: readonly string[] }): boolean {
  const flags = [...execArgv, ...(env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  return env['NODE_USE_ENV_PROXY'] === '1' || flags.includes('--use-env-proxy');
}

/**
 * `fetch` on `rootContextDispatcher`: what the model client, MCP connections, webhook
 * deliveries and token refreshes send through by default.
 *
 * @example
 * const anthropic = new Anthropic({ fetch: rootContextFetch });
 */
export const rootContextFetch: typeof fetch = (input, init) =>
  undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher: rootContextDispatcher }) as unknown as Promise<Response>;
