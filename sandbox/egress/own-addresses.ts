import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

// Interfaces come and go (a Docker network, a VPN): the list is read again after this long.
const REFRESH_MS = 5_000;

let cached: { addresses: ReadonlySet<string>; readAt: number } | undefined;

/**
 * True when `address` belongs to one of this host's own interfaces: the worker's own
 * public address, the Docker bridge's gateway, a VPN's. Services listening on the host
 * answer there even when the address is public, so a sandbox's `unrestricted`
 * internet never includes them.
 *
 * @example
 * isOwnAddress('127.0.0.1'); // true
 */
export function isOwnAddress(address: string, now = Date.now()): boolean {
  if (cached === undefined || now - cached.readAt > REFRESH_MS) cached = { addresses: readOwnAddresses(), readAt: now };
  return cached.addresses.has(normalise(address));
}

function readOwnAddresses(): Set<string> {
  const found = new Set<string>();
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) found.add(normalise(entry.address));
  }
  return found;
}

/** One spelling per address: no brackets or zone, IPv4-mapped IPv6 as IPv4, IPv6 in lower case. */
function normalise(address: string): string {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped?.[1] !== undefined) return mapped[1];
  return isIP(bare) === 6 ? expandIpv6(bare) : bare;
}

function expandIpv6(address: string): string {
  const [head = '', tail = ''] = address.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = address.includes('::') ? groups(tail) : [];
  const missing = 8 - left.length - right.length;
  return [...left, ...Array<string>(Math.max(0, missing)).fill('0'), ...right].map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}
