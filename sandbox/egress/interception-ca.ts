import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';

/**
 * A certificate authority made for one egress proxy, so it can open TLS toward
 * the sandbox for the hosts it substitutes secrets for. Its key lives only in the
 * worker's memory; the sandbox gets the certificate and trusts it. Certificates
 * are ECDSA P-256, encoded here (Node signs, but has no certificate builder).
 *
 * @example
 * const ca = InterceptionCa.create();
 * const context = ca.contextFor('api.example.com'); // for a TLS server socket
 * writeFileSync('egress-ca.pem', ca.certificatePem);
 */
export class InterceptionCa {
  readonly certificatePem: string;
  readonly #key: KeyObject;
  readonly #subject: Buffer;
  readonly #keyId: Buffer;
  readonly #contexts = new Map<string, SecureContext>();

  private constructor(key: KeyObject, publicKey: KeyObject) {
    this.#key = key;
    this.#subject = name('Longhaul sandbox egress CA');
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    this.#keyId = keyIdentifier(spki);
    const der = certificate({
      subject: this.#subject,
      issuer: this.#subject,
      spki,
      signingKey: key,
      extensions: [
        extension(OID.basicConstraints, seq(bool(true)), true),
        extension(OID.keyUsage, bitString(Buffer.from([0x06]), 1), true),
        extension(OID.subjectKeyIdentifier, octets(this.#keyId)),
      ],
    });
    this.certificatePem = pem(der);
  }

  static create(): InterceptionCa {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return new InterceptionCa(privateKey, publicKey);
  }

  /** A TLS server context presenting a certificate for `host` (a name or an IP literal), made once per host. */
  contextFor(host: string): SecureContext {
    const bare = host.replace(/^\[|\]$/g, '');
    let context = this.#contexts.get(bare);
    if (context === undefined) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      const altName = isIP(bare) === 0 ? tlv(0x82, Buffer.from(bare, 'ascii')) : tlv(0x87, ipBytes(bare));
      const der = certificate({
        subject: name(bare),
        issuer: this.#subject,
        spki,
        signingKey: this.#key,
        extensions: [
          extension(OID.basicConstraints, seq()),
          extension(OID.keyUsage, bitString(Buffer.from([0x80]), 7), true),
          extension(OID.extKeyUsage, seq(oid(OID.serverAuth))),
          extension(OID.subjectAltName, seq(altName)),
          extension(OID.subjectKeyIdentifier, octets(keyIdentifier(spki))),
          extension(OID.authorityKeyIdentifier, seq(tlv(0x80, this.#keyId))),
        ],
      });
      context = createSecureContext({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }), cert: `${pem(der)}${this.certificatePem}` });
      this.#contexts.set(bare, context);
    }
    return context;
  }
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

function certificate({
  subject,
  issuer,
  spki,
  signingKey,
  extensions,
}: {
  subject: Buffer;
  issuer: Buffer;
  spki: Buffer;
  signingKey: KeyObject;
  extensions: Buffer[];
}): Buffer {
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const now = Date.now();
  // Serial numbers are positive: the high bit of the first byte stays clear.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    issuer,
    seq(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 90 * 86_400_000))),
    subject,
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, { key: signingKey, dsaEncoding: 'der' });
  return seq(tbs, algorithm, bitString(signature, 0));
}

function name(commonName: string): Buffer {
  return seq(tlv(0x31, seq(oid(OID.commonName), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

function extension(id: string, value: Buffer, critical = false): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(spki).digest();
}

function ipBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  // Expand "::" and write eight 16-bit groups.
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return out;
}

function pem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

// DER: tag, length, value.
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function seq(...parts: Buffer[]): Buffer {
  return tlv(0x30, ...parts);
}

/**
 * A DER INTEGER of the unsigned big-endian `value`: minimal, as DER requires (a random
 * serial may start with zero bytes, which parsers reject as "illegal padding"), and
 * with a zero byte in front when the high bit would make it negative.
 */
export function integer(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const minimal = value.subarray(start);
  return tlv(0x02, (minimal[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

function bool(value: boolean): Buffer {
  return tlv(0x01, Buffer.from([value ? 0xff : 0]));
}

function octets(value: Buffer): Buffer {
  return tlv(0x04, value);
}

function bitString(value: Buffer, unusedBits: number): Buffer {
  return tlv(0x03, Buffer.from([unusedBits]), value);
}

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const iso = date.toISOString();
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return tlv(0x17, Buffer.from(text, 'ascii'));
}
