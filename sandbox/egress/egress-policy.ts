import type { SandboxSecret } from '../types.ts';
import { type HostPattern, hostMatches, parseHostPatterns } from './host-pattern.ts';

/** A secret ready for the proxy: its placeholder known, its hosts parsed. */
export type InjectedSecret = Omit<SandboxSecret, 'hosts'> & {
  placeholder: string;
  hosts: readonly HostPattern[] | 'any';
};

export type EgressPolicy = {
  /** Destinations the sandbox may reach; `'any'` still refuses internal addresses not named explicitly. */
  allowedHosts: readonly HostPattern[] | 'any';
  secrets: readonly InjectedSecret[];
  /** More hosts that count as named exactly (may resolve to internal addresses), e.g. configured package mirrors. */
  internalHosts?: readonly HostPattern[] | undefined;
};

export type EgressDecision =
  | { allowed: true; /** The host is named without a wildcard: internal addresses are fine. */ internalAllowed: boolean }
  | { allowed: false; reason: string };

/**
 * Whether the policy lets a request to `host:port` out. Internal addresses are
 * reachable only through hosts named exactly (in allowed_hosts, or, under
 * `'any'`, in a secret's hosts): a wildcard or `'any'` must not open the worker's
 * network.
 */
export function decideEgress(policy: EgressPolicy, host: string, port: number): EgressDecision {
  const exactly = (patterns: readonly HostPattern[]): boolean => patterns.some((p) => !p.wildcard && hostMatches(p, host, port));
  const named = exactly(policy.internalHosts ?? []);
  if (policy.allowedHosts === 'any') {
    return { allowed: true, internalAllowed: named || policy.secrets.some((s) => s.hosts !== 'any' && exactly(s.hosts)) };
  }
  if (!policy.allowedHosts.some((p) => hostMatches(p, host, port))) {
    return { allowed: false, reason: `${host}:${port} is not in this environment's allowed_hosts` };
  }
  return { allowed: true, internalAllowed: named || exactly(policy.allowedHosts) };
}

/** The secrets whose value may be sent to `host:port`. */
export function secretsFor(policy: EgressPolicy, host: string, port: number): InjectedSecret[] {
  return policy.secrets.filter((s) => s.hosts === 'any' || s.hosts.some((p) => hostMatches(p, host, port)));
}

/** Pairs each secret with its placeholder; a secret with none (added after the container started) is left out. */
export function injectedSecrets(secrets: readonly SandboxSecret[], placeholders: ReadonlyMap<string, string>): InjectedSecret[] {
  return secrets.flatMap((secret) => {
    const placeholder = placeholders.get(secret.name);
    if (placeholder === undefined) return [];
    const hosts = secret.hosts === 'any' ? 'any' : parseHostPatterns(secret.hosts);
    return [{ name: secret.name, value: secret.value, placeholder, hosts, header: secret.header, body: secret.body }];
  });
}

/** Replaces every placeholder of `secrets` in `text`. */
export function substitute(text: string, secrets: readonly InjectedSecret[]): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret.placeholder)) out = out.split(secret.placeholder).join(secret.value);
  }
  return out;
}
