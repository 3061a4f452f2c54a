/**
 * `allowed_hosts` entries as the API spells them, normalised once: a bare host
 * (`api.example.com`), an IP literal (`192.0.2.1`, `[2001:db8::1]`), or a `*.`
 * wildcard that matches every subdomain but not the domain itself (as the SDK
 * documents for credential hosts). A scheme, user info, path or trailing dot is
 * ignored; a port, when given, restricts the entry to that port.
 */
export type HostPattern = {
  /** Canonical host (WHATWG URL form: lower case, punycode, IPv6 in brackets); for a wildcard, the domain after `*.`. */
  host: string;
  wildcard: boolean;
  port?: number | undefined;
};

/**
 * Parses one entry; undefined when it names no host (empty, `*`, garbage).
 *
 * @example
 * parseHostPattern('https://API.example.com:8443/v1'); // { host: 'api.example.com', wildcard: false, port: 8443 }
 * parseHostPattern('*.example.com');                   // { host: 'example.com', wildcard: true }
 */
export function parseHostPattern(entry: string): HostPattern | undefined {
  let rest = entry.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  rest = rest.replace(/[/?#].*$/, '').replace(/^.*@/, '');
  let wildcard = false;
  if (rest.startsWith('*.')) {
    wildcard = true;
    rest = rest.slice(2);
  }
  const target = parseHostPort(rest);
  if (target === undefined) return undefined;
  if (wildcard && (target.host.startsWith('[') || /^[\d.]+$/.test(target.host))) return undefined;
  return { host: target.host, wildcard, ...(target.port !== undefined ? { port: target.port } : {}) };
}

/** Parses `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal into canonical form. */
export function parseHostPort(value: string): { host: string; port?: number | undefined } | undefined {
  let text = value.trim();
  // A bare IPv6 literal has several colons and no brackets.
  if (!text.startsWith('[') && (text.match(/:/g) ?? []).length > 1) text = `[${text}]`;
  let url: URL;
  try {
    url = new URL(`http://${text}`);
  } catch {
    return undefined;
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined;
  const host = url.hostname.replace(/\.$/, '');
  if (host === '' || host.includes('*')) return undefined;
  // URL drops the scheme's default port; an explicit ":80" still restricts to port 80.
  const explicitPort = /:(\d+)$/.exec(text)?.[1];
  return { host, ...(explicitPort !== undefined ? { port: Number(explicitPort) } : {}) };
}

/** Whether `host` (canonical, see {@link parseHostPort}) on `port` matches the pattern. */
export function hostMatches(pattern: HostPattern, host: string, port: number): boolean {
  if (pattern.port !== undefined && pattern.port !== port) return false;
  return pattern.wildcard ? host.endsWith(`.${pattern.host}`) : host === pattern.host;
}

/** Parses a list, dropping entries that name no host. */
export function parseHostPatterns(entries: readonly string[]): HostPattern[] {
  return entries.map(parseHostPattern).filter((p): p is HostPattern => p !== undefined);
}
