import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { InterceptionCa, integer } from '../../sandbox/egress/interception-ca.ts';

/** The leaf certificate a context presents, read back through a TLS server socket's context. */
function leafOf(ca: InterceptionCa, host: string): X509Certificate {
  const context = ca.contextFor(host) as unknown as { context: { getCertificate(): Buffer | null } };
  const der = context.context.getCertificate();
  assert.ok(der);
  return new X509Certificate(der);
}

test('the CA is a CA, and its leaf certificates name the host and are issued and signed by it', () => {
  const ca = InterceptionCa.create();
  const caCert = new X509Certificate(ca.certificatePem);
  assert.equal(caCert.ca, true);
  assert.equal(caCert.subject, 'CN=Longhaul sandbox egress CA');

  const leaf = leafOf(ca, 'api.example.com');
  assert.equal(leaf.ca, false);
  assert.equal(leaf.subjectAltName, 'DNS:api.example.com');
  assert.equal(leaf.checkHost('api.example.com'), 'api.example.com');
  assert.equal(leaf.checkHost('other.example.com'), undefined);
  assert.ok(leaf.checkIssued(caCert));
  assert.ok(leaf.verify(caCert.publicKey));
  assert.ok(new Date(leaf.validTo).getTime() > Date.now() + 30 * 86_400_000);

  assert.equal(leafOf(ca, '192.0.2.7').subjectAltName, 'IP Address:192.0.2.7');
  assert.equal(leafOf(ca, '[2001:db8::1]').subjectAltName, 'IP Address:2001:DB8:0:0:0:0:0:1');
  // Another CA's leaves do not verify against this one.
  assert.ok(!leafOf(InterceptionCa.create(), 'api.example.com').verify(caCert.publicKey));
});

test('DER integers are minimal: random serials with leading zero bytes still parse', () => {
  const hex = (value: number[]) => integer(Buffer.from(value)).toString('hex');
  assert.equal(hex([0x00, 0x00, 0x7f, 0x01]), '02027f01');
  assert.equal(hex([0x00, 0x80]), '02020080');
  assert.equal(hex([0x80, 0x01]), '0203008001');
  assert.equal(hex([0x00]), '020100');
  assert.equal(hex([0x05]), '020105');
});
