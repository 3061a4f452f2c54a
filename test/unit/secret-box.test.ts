import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/dev-config.ts';
import { resolveDevSecretBox, secretBoxFromEnv, secretKeyFile } from '../../src/config/secret-key.ts';
import { SecretBox, SecretIntegrityError, SecretKeyError } from '../../src/secrets/secret-box.ts';

const aad = { associatedData: 'vcrd_one' };

test('seal then open gives the plaintext back; the sealed form is versioned and carries no plaintext', () => {
  const box = SecretBox.fromBase64(SecretBox.generateKey());
  const plaintext = 'bearer-very-secret-1234 ünïcode';
  const sealed = box.seal(plaintext, aad);
  assert.match(sealed, /^lh1\.[0-9a-f]{12}\.[A-Za-z0-9_-]+$/);
  assert.equal(sealed.split('.')[1], box.keyId);
  assert.ok(!sealed.includes('very-secret'));
  assert.ok(!Buffer.from(sealed.split('.')[2]!, 'base64url').toString('latin1').includes('very-secret'));
  assert.equal(box.open(sealed, aad), plaintext);
  assert.notEqual(box.seal(plaintext, aad), sealed, 'a fresh IV every time');
});

test('a sealed value altered, or opened for another record, fails authentication', () => {
  const box = SecretBox.fromBase64(SecretBox.generateKey());
  const sealed = box.seal('token', aad);
  assert.throws(() => box.open(sealed, { associatedData: 'vcrd_two' }), SecretIntegrityError);
  const [format, keyId, payload] = sealed.split('.') as [string, string, string];
  const bytes = Buffer.from(payload, 'base64url');
  bytes[bytes.length - 20]! ^= 1;
  assert.throws(() => box.open(`${format}.${keyId}.${bytes.toString('base64url')}`, aad), SecretIntegrityError);
  assert.throws(() => box.open(`lh9.${keyId}.${payload}`, aad), /unknown format/);
  assert.throws(() => box.open(`lh1.${keyId}.AAAA`, aad), /truncated/);
});

test('rotation: a box with the old key among its previous keys opens old values and seals with the new one', () => {
  const oldKey = SecretBox.generateKey();
  const newKey = SecretBox.generateKey();
  const old = SecretBox.fromBase64(oldKey);
  const sealedByOld = old.seal('legacy', aad);
  const rotated = SecretBox.fromBase64(newKey, { previous: [oldKey] });
  assert.equal(rotated.open(sealedByOld, aad), 'legacy');
  assert.ok(rotated.needsReseal(sealedByOld));
  const resealed = rotated.seal('legacy', aad);
  assert.ok(!rotated.needsReseal(resealed));
  assert.throws(() => old.open(resealed, aad), (e: unknown) => e instanceof SecretKeyError && /does not hold/.test(e.message));
  // Without the old key, the value cannot be opened, and the error says why.
  assert.throws(() => SecretBox.fromBase64(newKey).open(sealedByOld, aad), /sealed with key [0-9a-f]{12}, which this server does not hold/);
});

test('a missing or malformed key is a clear SecretKeyError', () => {
  assert.throws(() => SecretBox.fromBase64(undefined, { name: 'LONGHAUL_SECRET_KEY' }), /LONGHAUL_SECRET_KEY is not set: it must be 32 random bytes in base64/);
  assert.throws(() => SecretBox.fromBase64('not base64 !!', { name: 'K' }), /K is not base64/);
  assert.throws(() => SecretBox.fromBase64(Buffer.alloc(16).toString('base64'), { name: 'K' }), /K decodes to 16 bytes; it must be 32/);
  assert.throws(() => new SecretBox({ key: new Uint8Array(31) }), SecretKeyError);
  // The url-safe alphabet is accepted too.
  const urlSafe = Buffer.alloc(32, 0xfb).toString('base64url');
  assert.equal(SecretBox.fromBase64(urlSafe).keyId, SecretBox.fromBase64(Buffer.alloc(32, 0xfb).toString('base64')).keyId);
});

test('serve/worker: no LONGHAUL_SECRET_KEY is no box; a malformed one is a ConfigError naming the variable', () => {
  assert.equal(secretBoxFromEnv({}), undefined);
  assert.equal(secretBoxFromEnv({ LONGHAUL_SECRET_KEY: '  ' }), undefined);
  assert.ok(secretBoxFromEnv({ LONGHAUL_SECRET_KEY: SecretBox.generateKey() }) instanceof SecretBox);
  assert.throws(() => secretBoxFromEnv({ LONGHAUL_SECRET_KEY: 'c2hvcnQ=' }), (e: unknown) => e instanceof ConfigError && /LONGHAUL_SECRET_KEY decodes to 5 bytes/.test(e.message));
  assert.throws(
    () => secretBoxFromEnv({ LONGHAUL_SECRET_KEY: SecretBox.generateKey(), LONGHAUL_PREVIOUS_SECRET_KEYS: `${SecretBox.generateKey()}, bad` }),
    /LONGHAUL_PREVIOUS_SECRET_KEYS entry 2 is not base64|LONGHAUL_PREVIOUS_SECRET_KEYS entry 2 decodes/,
  );
});

test('dev: a key is generated once into <data-dir>/secret.key (0600) and reused; the env var wins', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'longhaul-secret-'));
  try {
    const first = await resolveDevSecretBox({ dataDir, env: {} });
    assert.equal(first.source, 'generated');
    const file = secretKeyFile(dataDir);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const sealed = first.box.seal('kept across restarts', aad);

    const second = await resolveDevSecretBox({ dataDir, env: {} });
    assert.equal(second.source, 'file');
    assert.equal(second.box.open(sealed, aad), 'kept across restarts');

    const fromEnv = await resolveDevSecretBox({ dataDir, env: { LONGHAUL_SECRET_KEY: SecretBox.generateKey() } });
    assert.equal(fromEnv.source, 'env');
    assert.notEqual(fromEnv.box.keyId, first.box.keyId);

    await writeFile(file, 'garbage\n');
    await assert.rejects(resolveDevSecretBox({ dataDir, env: {} }), (e: unknown) => e instanceof ConfigError && e.message.includes('secret.key'));
    assert.equal((await readFile(file, 'utf8')).trim(), 'garbage', 'a bad key file is reported, never replaced');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
