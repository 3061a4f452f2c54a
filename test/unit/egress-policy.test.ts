import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { test } from 'node:test';
import { decideEgress, type EgressPolicy, injectedSecrets, secretsFor } from '../../sandbox/egress/egress-policy.ts';
import { substituteBuffer } from '../../sandbox/egress/http-forwarding.ts';
import { parseHostPattern, parseHostPatterns, parseHostPort } from '../../sandbox/egress/host-pattern.ts';
import { isOwnAddress } from '../../sandbox/egress/own-addresses.ts';
import { sandboxEgressPolicy } from '../../sandbox/egress/sandbox-egress.ts';
import { isInternalAddress } from '../../src/net/internal-address.ts';
import { packageRegistriesFromEnv, registryEnvironment, registryHosts } from '../../sandbox/packages/package-registries.ts';

test('allowed_hosts entries are normalised: scheme, path, user info, case and trailing dot dropped; a port restricts', () => {
  assert.deepEqual(parseHostPattern('https://API.Example.com:8443/v1?x'), { host: 'api.example.com', wildcard: false, port: 8443 });
  assert.deepEqual(parseHostPattern('user@files.example.org.'), { host: 'files.example.org', wildcard: false });
  assert.deepEqual(parseHostPattern('*.example.com'), { host: 'example.com', wildcard: true });
  assert.deepEqual(parseHostPattern('[2001:db8::1]:443'), { host: '[2001:db8::1]', wildcard: false, port: 443 });
  assert.deepEqual(parseHostPattern('2001:db8::1'), { host: '[2001:db8::1]', wildcard: false });
  assert.deepEqual(parseHostPattern('http://example.com:80'), { host: 'example.com', wildcard: false, port: 80 });
  for (const bad of ['', '*', '*.', '*.192.0.2.1', 'a b', 'http://']) assert.equal(parseHostPattern(bad), undefined, bad);
  // WHATWG canonical forms, so an odd spelling of an address is the address.
  assert.deepEqual(parseHostPort('0x7f.1:80'), { host: '127.0.0.1', port: 80 });
});

test('hosts: exact names, wildcards match subdomains only, ports when given', () => {
  const policy: EgressPolicy = { allowedHosts: parseHostPatterns(['api.example.com', '*.example.org', 'db.example.net:5432']), secrets: [] };
  assert.deepEqual(decideEgress(policy, 'api.example.com', 443), { allowed: true, internalAllowed: true });
  assert.equal(decideEgress(policy, 'evil-api.example.com', 443).allowed, false);
  assert.deepEqual(decideEgress(policy, 'a.b.example.org', 80), { allowed: true, internalAllowed: false });
  assert.equal(decideEgress(policy, 'example.org', 80).allowed, false);
  assert.equal(decideEgress(policy, 'example.org.evil', 80).allowed, false);
  assert.equal(decideEgress(policy, 'db.example.net', 5432).allowed, true);
  assert.equal(decideEgress(policy, 'db.example.net', 22).allowed, false);
  const denied = decideEgress({ allowedHosts: [], secrets: [] }, 'x.example.com', 80);
  assert.deepEqual(denied, { allowed: false, reason: "x.example.com:80 is not in this environment's allowed_hosts" });
});

test("'any' allows every host; internal addresses only for hosts a secret or a mirror names exactly", () => {
  const secrets = injectedSecrets(
    [
      { name: 'A', value: 'va', hosts: ['api.example.com'], header: true, body: false },
      { name: 'B', value: 'vb', hosts: 'any', header: false, body: true },
      { name: 'LATE', value: 'vl', hosts: 'any', header: true, body: true },
    ],
    new Map([
      ['A', 'ph_a'],
      ['B', 'ph_b'],
    ]),
  );
  assert.deepEqual(secrets.map((s) => s.name), ['A', 'B'], 'a secret without a placeholder in the container is not injectable');
  const policy: EgressPolicy = { allowedHosts: 'any', secrets, internalHosts: parseHostPatterns(['127.0.0.1:3141']) };
  assert.deepEqual(decideEgress(policy, 'anything.example', 443), { allowed: true, internalAllowed: false });
  assert.deepEqual(decideEgress(policy, 'api.example.com', 443), { allowed: true, internalAllowed: true });
  assert.deepEqual(decideEgress(policy, '127.0.0.1', 3141), { allowed: true, internalAllowed: true });
  assert.deepEqual(decideEgress(policy, '127.0.0.1', 22), { allowed: true, internalAllowed: false });
  assert.deepEqual(secretsFor(policy, 'api.example.com', 443).map((s) => s.name), ['A', 'B']);
  assert.deepEqual(secretsFor(policy, 'other.example.com', 443).map((s) => s.name), ['B']);
});

test('body substitution works on bytes and replaces every occurrence', () => {
  const [secret] = injectedSecrets([{ name: 'T', value: 'välue', hosts: 'any', header: false, body: true }], new Map([['T', 'PH']]));
  assert.ok(secret);
  const body = Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('PH-PH'), Buffer.from([0xfe])]);
  assert.deepEqual(substituteBuffer(body, [secret]), Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('välue-välue'), Buffer.from([0xfe])]));
});

test('registry settings come from LONGHAUL_* variables and become client settings and allowed hosts', () => {
  const registries = packageRegistriesFromEnv({
    LONGHAUL_PIP_INDEX_URL: 'http://pypi-mirror.example.com:3141/simple/',
    LONGHAUL_NPM_REGISTRY: 'https://npm-mirror.example.com/',
    LONGHAUL_GOPROXY: 'https://goproxy.example.com,direct',
    LONGHAUL_PACKAGE_REGISTRY_HOSTS: ' a.example.com, b.example.com ',
    LONGHAUL_APT_MIRROR: '',
  });
  assert.equal(registries.aptMirror, undefined);
  assert.deepEqual(registryEnvironment(registries), {
    PIP_INDEX_URL: 'http://pypi-mirror.example.com:3141/simple/',
    PIP_TRUSTED_HOST: 'pypi-mirror.example.com:3141',
    npm_config_registry: 'https://npm-mirror.example.com/',
    GOPROXY: 'https://goproxy.example.com,direct',
  });
  assert.deepEqual(registryHosts(registries), [
    'pypi-mirror.example.com:3141',
    'npm-mirror.example.com',
    'goproxy.example.com',
    'a.example.com',
    'b.example.com',
  ]);
});

test('unrestricted is the internet, not the host: every sandbox gets a proxy policy, internal addresses stay shut', () => {
  const open = sandboxEgressPolicy({ networking: { type: 'unrestricted' }, secrets: [], placeholders: new Map() });
  assert.equal(open.allowedHosts, 'any');
  assert.deepEqual(decideEgress(open, 'example.com', 443), { allowed: true, internalAllowed: false });
  assert.deepEqual(decideEgress(open, '169.254.169.254', 80), { allowed: true, internalAllowed: false });
  // A configured package mirror may sit inside the network: it is named, so it is reachable.
  const withMirror = sandboxEgressPolicy({
    networking: { type: 'unrestricted' },
    secrets: [],
    placeholders: new Map(),
    packageRegistryHosts: ['pypi.internal.example'],
  });
  assert.deepEqual(decideEgress(withMirror, 'pypi.internal.example', 443), { allowed: true, internalAllowed: true });
  assert.deepEqual(decideEgress(withMirror, 'other.internal.example', 443), { allowed: true, internalAllowed: false });
});

test('internal addresses in every spelling: metadata, link-local, private, reserved, mapped, compatible, NAT64 and 6to4 forms', () => {
  const internal = [
    '169.254.169.254',
    '[fd00:ec2::254]',
    'fe80::1%eth0',
    '10.1.2.3',
    '172.17.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '127.0.0.1',
    '0.0.0.0',
    '::',
    '::1',
    '192.0.2.10',
    '198.51.100.7',
    '203.0.113.9',
    '2001:db8::1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::169.254.169.254',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::a00:1',
    '2002:a9fe:a9fe::1',
    '2002:0a00:0001::',
    'metadata.google.internal',
    'not-an-address',
  ];
  for (const address of internal) assert.equal(isInternalAddress(address), true, address);
  for (const address of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '2002:5db8:d822::1']) {
    assert.equal(isInternalAddress(address), false, address);
  }
  // Odd IPv4 spellings are canonicalised before any decision.
  for (const [spelling, canonical] of [
    ['2852039166', '169.254.169.254'],
    ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['0251.0376.0251.0376', '169.254.169.254'],
    ['0x7f.1', '127.0.0.1'],
  ] as const) {
    assert.equal(parseHostPort(`${spelling}:80`)?.host, canonical, spelling);
  }
});

test("the worker host's own addresses count as the host, in any spelling", () => {
  const own = Object.values(networkInterfaces()).flatMap((entries) => (entries ?? []).map((e) => e.address));
  assert.ok(own.length > 0);
  for (const address of own) {
    assert.equal(isOwnAddress(address), true, address);
    if (!address.includes(':')) assert.equal(isOwnAddress(`::ffff:${address}`), true, `::ffff:${address}`);
  }
  assert.equal(isOwnAddress('[::1]'), true);
  assert.equal(isOwnAddress('0:0:0:0:0:0:0:1'), true);
  assert.equal(isOwnAddress('93.184.216.34'), false);
});
