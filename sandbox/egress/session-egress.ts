import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getCACertificates } from 'node:tls';
import type Dockerode from 'dockerode';
import { CONTAINER_PATHS, sessionTrustDir } from '../sandbox-resources.ts';
import type { SandboxLogger, SandboxSecret, SandboxSpec } from '../types.ts';
import { EgressProxy, type ResolveHost } from './egress-proxy.ts';
import type { EgressPolicy } from './egress-policy.ts';
import { InterceptionCa } from './interception-ca.ts';
import {
  CA_BUNDLE_FILE,
  EGRESS_CA_FILE,
  EGRESS_SOCKET_FILE,
  newPlaceholders,
  placeholdersFromEnv,
  sandboxEgressPolicy,
  trustEnvironment,
} from './sandbox-egress.ts';

/** What a new container needs to go through its proxy. */
export type EgressForContainer = {
  policy: EgressPolicy;
  /** Secret name → placeholder, for the container's environment. */
  placeholders: ReadonlyMap<string, string>;
  /** CA trust settings, when https requests are intercepted to substitute secrets. */
  environment: Record<string, string>;
};

type Served = { proxy: EgressProxy; placeholders: ReadonlyMap<string, string>; intercepting: boolean };

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
  readonly #upstreamCa: readonly string[] | undefined;

  constructor({
    registryHosts,
    resolveHost,
    logger,
    upstreamCa,
  }: {
    /** Allowed under `allow_package_managers`. */
    registryHosts: readonly string[];
    resolveHost?: ResolveHost | undefined;
    logger?: SandboxLogger | undefined;
    /** CAs for the real destinations of intercepted https requests. Default: Node's and the system's. */
    upstreamCa?: readonly string[] | undefined;
  }) {
    this.#registryHosts = registryHosts;
    this.#resolveHost = resolveHost;
    this.#logger = logger;
    this.#upstreamCa = upstreamCa ?? trustedRoots();
  }

  /** Starts (or re-targets) the proxy of a container about to be created, with fresh placeholders. */
  async forNewContainer(spec: SandboxSpec, sessionDir: string): Promise<EgressForContainer> {
    const placeholders = newPlaceholders(secretsOf(spec));
    const policy = this.#policy(spec, placeholders);
    // Secrets ride in https requests too: the sandbox trusts a CA of its own proxy.
    const intercepting = policy.secrets.length > 0;
    await this.#serve(spec.sessionId, sessionDir, policy, placeholders, intercepting);
    return { policy, placeholders, environment: intercepting ? trustEnvironment(CONTAINER_PATHS.trust) : {} };
  }

  /** Serves the proxy of a running container this worker did not start. */
  async forRunningContainer(spec: SandboxSpec, sessionDir: string, container: Dockerode.Container): Promise<void> {
    const env = (await container.inspect()).Config.Env ?? [];
    const placeholders = placeholdersFromEnv(env, secretsOf(spec));
    const intercepting = env.includes(`SSL_CERT_FILE=${trustEnvironment(CONTAINER_PATHS.trust)['SSL_CERT_FILE']}`);
    await this.#serve(spec.sessionId, sessionDir, this.#policy(spec, placeholders), placeholders, intercepting);
  }

  /** New requests use the spec's current hosts and secret values (rotated ones included). */
  refresh(spec: SandboxSpec): void {
    const served = this.#served.get(spec.sessionId);
    if (served !== undefined) served.proxy.update(this.#policy(spec, served.placeholders));
  }

  async stop(sessionId: string): Promise<void> {
    const served = this.#served.get(sessionId);
    this.#served.delete(sessionId);
    await served?.proxy.close();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#served.keys()].map((sessionId) => this.stop(sessionId)));
  }

  #policy(spec: SandboxSpec, placeholders: ReadonlyMap<string, string>): EgressPolicy {
    return sandboxEgressPolicy({
      networking: spec.networking,
      secrets: secretsOf(spec),
      placeholders,
      packageRegistryHosts: this.#registryHosts,
    });
  }

  async #serve(
    sessionId: string,
    sessionDir: string,
    policy: EgressPolicy,
    placeholders: ReadonlyMap<string, string>,
    intercepting: boolean,
  ): Promise<void> {
    const served = this.#served.get(sessionId);
    if (served !== undefined && served.intercepting === intercepting) {
      served.proxy.update(policy);
      this.#served.set(sessionId, { ...served, placeholders });
      return;
    }
    if (served !== undefined) await this.stop(sessionId);
    // A new CA per proxy: its key never leaves this process, so a worker that
    // adopts the sandbox makes its own and rewrites the files the sandbox trusts.
    const interceptionCa = intercepting ? InterceptionCa.create() : undefined;
    if (interceptionCa !== undefined) await writeTrustFiles(sessionTrustDir(sessionDir), interceptionCa.certificatePem);
    const proxy = await EgressProxy.listen({
      socketPath: join(sessionDir, EGRESS_SOCKET_FILE),
      policy,
      resolveHost: this.#resolveHost,
      logger: this.#logger,
      logContext: { sessionId },
      interceptionCa,
      upstreamCa: this.#upstreamCa,
    });
    this.#served.set(sessionId, { proxy, placeholders, intercepting });
  }
}

/**
 * The CA alone (for Node's extra CAs) and a full bundle: the roots this worker trusts
 * plus the CA. `trustDir` is writable by root only and read-only in the sandbox; each
 * file is written new (never through an existing name, which could be a link) and
 * renamed into place.
 */
async function writeTrustFiles(trustDir: string, caPem: string): Promise<void> {
  const bundle = `${trustedRoots().map((pem) => pem.trim()).join('\n')}\n${caPem}`;
  await writeNewFile(trustDir, EGRESS_CA_FILE, caPem);
  await writeNewFile(trustDir, CA_BUNDLE_FILE, bundle);
}

async function writeNewFile(dir: string, name: string, content: string): Promise<void> {
  const partial = join(dir, `.${name}.${randomBytes(6).toString('hex')}`);
  try {
    // 'wx' is O_CREAT | O_EXCL: it fails on any existing name, a symlink included.
    await writeFile(partial, content, { mode: 0o644, flag: 'wx' });
    await rename(partial, join(dir, name));
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

/** What this worker trusts: Node's roots (with NODE_EXTRA_CA_CERTS) and the system's. */
function trustedRoots(): string[] {
  return [...new Set([...getCACertificates('default'), ...getCACertificates('system')])];
}

export function secretsOf(spec: SandboxSpec): readonly SandboxSecret[] {
  return spec.egress?.secrets ?? [];
}
