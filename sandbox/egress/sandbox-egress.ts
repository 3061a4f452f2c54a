import { randomBytes } from 'node:crypto';
import type { SandboxNetworking, SandboxSecret } from '../types.ts';
import { type EgressPolicy, injectedSecrets } from './egress-policy.ts';
import { parseHostPatterns } from './host-pattern.ts';

/** Port of the in-sandbox relay to the egress proxy (squid's, the usual proxy port). */
export const EGRESS_RELAY_PORT = 3128;

/** File name of the egress proxy's socket in the session's host folder. */
export const EGRESS_SOCKET_FILE = 'egress.sock';

/** In the session's trust folder: the interception CA alone, and the CA bundle with it added. */
export const EGRESS_CA_FILE = 'egress-ca.pem';
export const CA_BUNDLE_FILE = 'ca-bundle.pem';

/**
 * Where TLS clients look for trusted CAs (OpenSSL, curl, Python requests, pip,
 * git, cargo; Node adds NODE_EXTRA_CA_CERTS to its own), pointed at files in
 * `trustDir` (the read-only trust folder as the sandbox sees it).
 */
export function trustEnvironment(trustDir: string): Record<string, string> {
  const bundle = `${trustDir}/${CA_BUNDLE_FILE}`;
  return {
    SSL_CERT_FILE: bundle,
    CURL_CA_BUNDLE: bundle,
    REQUESTS_CA_BUNDLE: bundle,
    PIP_CERT: bundle,
    GIT_SSL_CAINFO: bundle,
    CARGO_HTTP_CAINFO: bundle,
    NODE_EXTRA_CA_CERTS: `${trustDir}/${EGRESS_CA_FILE}`,
  };
}

const PLACEHOLDER_PREFIX = 'longhaul_secret_placeholder_';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Proxy settings every common client reads (curl only reads lower-case `http_proxy`). */
export function proxyEnvironment({ port = EGRESS_RELAY_PORT, noProxy = true }: { port?: number; noProxy?: boolean } = {}): Record<string, string> {
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    ALL_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    all_proxy: url,
  };
  if (noProxy) {
    env['NO_PROXY'] = 'localhost,127.0.0.1';
    env['no_proxy'] = 'localhost,127.0.0.1';
  }
  return env;
}

const RESERVED_NAMES = new Set([
  'PATH',
  'HOME',
  'LANG',
  'PYTHONDONTWRITEBYTECODE',
  ...Object.keys(proxyEnvironment()),
  ...Object.keys(trustEnvironment('')),
]);

/** Throws on a secret name the sandbox environment cannot carry (or that would override ours). */
export function assertSecretNames(secrets: readonly SandboxSecret[]): void {
  const seen = new Set<string>();
  for (const { name } of secrets) {
    if (!ENV_NAME.test(name)) throw new TypeError(`secret name ${JSON.stringify(name)} is not a valid environment variable name`);
    if (RESERVED_NAMES.has(name)) throw new TypeError(`secret name ${name} is reserved for the sandbox's own settings`);
    if (seen.has(name)) throw new TypeError(`secret name ${name} is given twice`);
    seen.add(name);
  }
}

/** A fresh random placeholder per secret; only these reach the container. */
export function newPlaceholders(secrets: readonly SandboxSecret[]): Map<string, string> {
  return new Map(secrets.map((s) => [s.name, `${PLACEHOLDER_PREFIX}${randomBytes(16).toString('hex')}`]));
}

/**
 * The placeholders a running container was started with, read back from its
 * environment (`docker inspect` Config.Env), so a worker that adopts it can serve
 * the same ones.
 */
export function placeholdersFromEnv(env: readonly string[] | undefined, secrets: readonly SandboxSecret[]): Map<string, string> {
  const wanted = new Set(secrets.map((s) => s.name));
  const found = new Map<string, string>();
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (eq > 0 && wanted.has(name) && value.startsWith(PLACEHOLDER_PREFIX)) found.set(name, value);
  }
  return found;
}

/**
 * The egress policy of a sandbox: every sandbox goes through the proxy, so a refused
 * host gets a clear 403 and nothing reaches the host's network by accident.
 * `limited` reaches its `allowed_hosts` (plus the package registries under
 * `allow_package_managers`). `unrestricted` reaches the internet, not the host: any
 * destination whose address is public; internal ones (loopback, private, link-local
 * and metadata, the worker host's own addresses) only when a secret's hosts or a
 * configured package registry names them exactly. To reach an internal service,
 * name it in a `limited` environment's `allowed_hosts`.
 */
export function sandboxEgressPolicy({
  networking,
  secrets,
  placeholders,
  packageRegistryHosts = [],
}: {
  networking: SandboxNetworking;
  secrets: readonly SandboxSecret[];
  placeholders: ReadonlyMap<string, string>;
  packageRegistryHosts?: readonly string[];
}): EgressPolicy {
  const injected = injectedSecrets(secrets, placeholders);
  if (networking.type === 'unrestricted') {
    return { allowedHosts: 'any', secrets: injected, internalHosts: parseHostPatterns(packageRegistryHosts) };
  }
  const hosts = [...(networking.allowed_hosts ?? []), ...(networking.allow_package_managers === true ? packageRegistryHosts : [])];
  return { allowedHosts: parseHostPatterns(hosts), secrets: injected };
}
