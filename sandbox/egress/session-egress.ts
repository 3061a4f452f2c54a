import { join } from 'node:path';
import type Dockerode from 'dockerode';
import type { SandboxLogger, SandboxSecret, SandboxSpec } from '../types.ts';
import { EgressProxy, type ResolveHost } from './egress-proxy.ts';
import type { EgressPolicy } from './egress-policy.ts';
import { EGRESS_SOCKET_FILE, newPlaceholders, placeholdersFromEnv, sandboxEgressPolicy } from './sandbox-egress.ts';

/** What a new container needs to go through its proxy. */
export type EgressForContainer = {
  /** Undefined when the sandbox talks to the network directly. */
  policy: EgressPolicy | undefined;
  /** Secret name → placeholder, for the container's environment. */
  placeholders: ReadonlyMap<string, string>;
};

type Served = { proxy: EgressProxy; placeholders: ReadonlyMap<string, string> };

/**
 * The egress proxies one worker serves, one per session, on a socket in the
 * session's host folder. A container outlives its worker: whichever worker
 * ensures it next serves its proxy again, with the placeholders read back from
 * the container's environment.
 */
export class SessionEgress {
  readonly #served = new Map<string, Served>();
  readonly #registryHosts: readonly string[];
  readonly #resolveHost: ResolveHost | undefined;
  readonly #logger: SandboxLogger | undefined;

  constructor({
    registryHosts,
    resolveHost,
    logger,
  }: {
    /** Allowed under `allow_package_managers`. */
    registryHosts: readonly string[];
    resolveHost?: ResolveHost | undefined;
    logger?: SandboxLogger | undefined;
  }) {
    this.#registryHosts = registryHosts;
    this.#resolveHost = resolveHost;
    this.#logger = logger;
  }

  /** Starts (or re-targets) the proxy of a container about to be created, with fresh placeholders. */
  async forNewContainer(spec: SandboxSpec, sessionDir: string): Promise<EgressForContainer> {
    const placeholders = newPlaceholders(secretsOf(spec));
    const policy = this.#policy(spec, placeholders);
    if (policy !== undefined) await this.#serve(spec.sessionId, sessionDir, policy, placeholders);
    return { policy, placeholders };
  }

  /** Serves the proxy of a running container this worker did not start. */
  async forRunningContainer(spec: SandboxSpec, sessionDir: string, container: Dockerode.Container): Promise<void> {
    const env = (await container.inspect()).Config.Env ?? [];
    const placeholders = placeholdersFromEnv(env, secretsOf(spec));
    const proxied = env.some((e) => e.startsWith('HTTP_PROXY=http://127.0.0.1:'));
    // A proxied container whose environment became unrestricted without secrets has no other way out.
    const policy = this.#policy(spec, placeholders) ?? (proxied ? { allowedHosts: 'any' as const, secrets: [] } : undefined);
    if (policy !== undefined) await this.#serve(spec.sessionId, sessionDir, policy, placeholders);
  }

  /** New requests use the spec's current hosts and secret values (rotated ones included). */
  refresh(spec: SandboxSpec): void {
    const served = this.#served.get(spec.sessionId);
    const policy = served && this.#policy(spec, served.placeholders);
    if (served !== undefined && policy !== undefined) served.proxy.update(policy);
  }

  async stop(sessionId: string): Promise<void> {
    const served = this.#served.get(sessionId);
    this.#served.delete(sessionId);
    await served?.proxy.close();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#served.keys()].map((sessionId) => this.stop(sessionId)));
  }

  #policy(spec: SandboxSpec, placeholders: ReadonlyMap<string, string>): EgressPolicy | undefined {
    return sandboxEgressPolicy({
      networking: spec.networking,
      secrets: secretsOf(spec),
      placeholders,
      packageRegistryHosts: this.#registryHosts,
    });
  }

  async #serve(sessionId: string, sessionDir: string, policy: EgressPolicy, placeholders: ReadonlyMap<string, string>): Promise<void> {
    const served = this.#served.get(sessionId);
    if (served !== undefined) {
      served.proxy.update(policy);
      this.#served.set(sessionId, { proxy: served.proxy, placeholders });
      return;
    }
    const proxy = await EgressProxy.listen({
      socketPath: join(sessionDir, EGRESS_SOCKET_FILE),
      policy,
      resolveHost: this.#resolveHost,
      logger: this.#logger,
      logContext: { sessionId },
    });
    this.#served.set(sessionId, { proxy, placeholders });
  }
}

export function secretsOf(spec: SandboxSpec): readonly SandboxSecret[] {
  return spec.egress?.secrets ?? [];
}
