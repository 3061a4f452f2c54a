import { BlockList, isIP } from 'node:net';

/**
 * Addresses inside the operator's network, or that no outbound request should
 * ever go to: loopback, private ranges, link-local (cloud metadata), CGNAT,
 * multicast and the reserved blocks. Workers sit inside that network, so a request
 * made for an agent (web_fetch, the sandbox egress proxy) must not reach them
 * unless the environment names the host explicitly.
 */
const INTERNAL_IPV4: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

const INTERNAL_IPV6: readonly [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
];

const internal = new BlockList();
for (const [network, prefix] of INTERNAL_IPV4) {
  internal.addSubnet(network, prefix, 'ipv4');
  // The same IPv4 ranges reached through IPv4-mapped, IPv4-compatible and NAT64 IPv6
  // addresses, and through 6to4 (2002:AABB:CCDD::/48 carries AA.BB.CC.DD).
  internal.addSubnet(`::ffff:${network}`, 96 + prefix, 'ipv6');
  internal.addSubnet(`::${network}`, 96 + prefix, 'ipv6');
  internal.addSubnet(`64:ff9b::${network}`, 96 + prefix, 'ipv6');
  internal.addSubnet(`64:ff9b:1::${network}`, 96 + prefix, 'ipv6');
  internal.addSubnet(sixToFour(network), 16 + prefix, 'ipv6');
}
for (const [network, prefix] of INTERNAL_IPV6) internal.addSubnet(network, prefix, 'ipv6');

function sixToFour(ipv4: string): string {
  const [a = 0, b = 0, c = 0, d = 0] = ipv4.split('.').map(Number);
  const hex = (high: number, low: number): string => ((high << 8) | low).toString(16);
  return `2002:${hex(a, b)}:${hex(c, d)}::`;
}

/**
 * True for an IP address a request on an agent's behalf must not reach unless
 * allowed explicitly. Anything that is not an IP literal counts as internal, so a
 * parse problem fails closed.
 *
 * @example
 * isInternalAddress('169.254.169.254'); // true
 * isInternalAddress('93.184.216.34');   // false
 */
export function isInternalAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 0) return true;
  return internal.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}
