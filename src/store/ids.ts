import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) out += ALPHABET[bytes[i % bytes.length]! % 62];
  return out;
}

/** A new random id in the API's shape: prefix + 24 alphanumerics starting `011C`. */
export function newId(prefix: string): string {
  return `${prefix}_011C${base62(randomBytes(32), 20)}`;
}

/**
 * The same id every time for the same inputs: events are keyed by what caused
 * them, so an activity retried after a crash re-derives identical ids.
 */
export function deterministicId(prefix: string, ...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return `${prefix}_011C${base62(digest, 20)}`;
}
