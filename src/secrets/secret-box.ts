import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Length of a secret key, in bytes (AES-256). */
export const SECRET_KEY_BYTES = 32;

/**
 * Sealed values look like `lh1.<key id>.<base64url(iv ‖ ciphertext ‖ tag)>`. The
 * format version comes first so a later format can be told apart; the key id says
 * which key sealed the value, so a box holding the new key and the old ones opens
 * both while values are re-sealed.
 */
const FORMAT = 'lh1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The key is missing or is not 32 bytes of base64, or a value was sealed by a key this box does not hold. */
export class SecretKeyError extends Error {
  override readonly name = 'SecretKeyError';
}

/** A sealed value was altered, or sealed for another record (its associated data differs). */
export class SecretIntegrityError extends Error {
  override readonly name = 'SecretIntegrityError';
}

export type SecretBoxOptions = {
  /** Seals new values and opens values it sealed: 32 bytes. */
  key: Uint8Array;
  /** Keys that sealed older values; they only open. */
  previousKeys?: readonly Uint8Array[];
};

/**
 * Authenticated encryption of small secrets at rest (AES-256-GCM, a random 96-bit
 * IV per value). The associated data binds a sealed value to the record it
 * belongs to: a value copied onto another row does not open.
 *
 * @example
 * const box = SecretBox.fromBase64(process.env.LONGHAUL_SECRET_KEY);
 * const sealed = box.seal('token', { associatedData: 'vcrd_…' });
 * box.open(sealed, { associatedData: 'vcrd_…' }); // 'token'
 */
export class SecretBox {
  readonly #sealKeyId: string;
  readonly #keys: Map<string, Buffer>;

  constructor({ key, previousKeys = [] }: SecretBoxOptions) {
    this.#keys = new Map();
    for (const candidate of [key, ...previousKeys]) {
      if (candidate.byteLength !== SECRET_KEY_BYTES) throw new SecretKeyError(`a secret key must be ${SECRET_KEY_BYTES} bytes, got ${candidate.byteLength}`);
      const copy = Buffer.from(candidate);
      this.#keys.set(keyIdOf(copy), copy);
    }
    this.#sealKeyId = keyIdOf(Buffer.from(key));
  }

  /**
   * A box from base64 keys (standard or url-safe alphabet), as `LONGHAUL_SECRET_KEY` holds
   * them. `name` says where the key came from in the error when it is missing or malformed.
   */
  static fromBase64(
    key: string | undefined,
    { previous = [], name = 'the secret key', previousName = 'previous secret key' }: { previous?: readonly string[]; name?: string; previousName?: string } = {},
  ): SecretBox {
    return new SecretBox({ key: decodeKey(key, name), previousKeys: previous.map((k, i) => decodeKey(k, `${previousName} ${i + 1}`)) });
  }

  /** A new random key, base64-encoded. */
  static generateKey(): string {
    return randomBytes(SECRET_KEY_BYTES).toString('base64');
  }

  /** Id of the key new values are sealed with (not secret: a digest prefix). */
  get keyId(): string {
    return this.#sealKeyId;
  }

  seal(plaintext: string, { associatedData }: { associatedData: string }): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#sealKeyId)!, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${FORMAT}.${this.#sealKeyId}.${body.toString('base64url')}`;
  }

  open(sealed: string, { associatedData }: { associatedData: string }): string {
    const [format, keyId, payload, ...rest] = sealed.split('.');
    if (format !== FORMAT || keyId === undefined || payload === undefined || rest.length > 0) throw new SecretIntegrityError('not a value this box seals (unknown format)');
    const key = this.#keys.get(keyId);
    if (!key) throw new SecretKeyError(`the value was sealed with key ${keyId}, which this server does not hold (was the secret key changed without keeping the old one?)`);
    const body = Buffer.from(payload, 'base64url');
    if (body.length < IV_BYTES + TAG_BYTES) throw new SecretIntegrityError('sealed value is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretIntegrityError('sealed value failed authentication (altered, or sealed for another record)');
    }
  }

  /** Whether `sealed` was sealed with an older key and should be sealed again. */
  needsReseal(sealed: string): boolean {
    return sealed.split('.')[1] !== this.#sealKeyId;
  }
}

function decodeKey(value: string | undefined, name: string): Buffer {
  const text = value?.trim();
  if (!text) throw new SecretKeyError(`${name} is not set: it must be ${SECRET_KEY_BYTES} random bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new SecretKeyError(`${name} is not base64: it must be ${SECRET_KEY_BYTES} random bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
  const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length !== SECRET_KEY_BYTES) throw new SecretKeyError(`${name} decodes to ${bytes.length} bytes; it must be ${SECRET_KEY_BYTES} (e.g. \`openssl rand -base64 32\`)`);
  return bytes;
}

function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('longhaul-secret-key-id\u0000').update(key).digest('hex').slice(0, 12);
}
