import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SecretBox, SecretKeyError } from '../secrets/secret-box.ts';
import { ConfigError } from './dev-config.ts';

/** Environment variable holding the key vault secrets are sealed with: 32 bytes, base64. */
export const SECRET_KEY_ENV = 'LONGHAUL_SECRET_KEY';
/** Older keys that still open values while they are re-sealed, comma-separated. */
export const PREVIOUS_SECRET_KEYS_ENV = 'LONGHAUL_PREVIOUS_SECRET_KEYS';

/** Where `longhaul dev` keeps the key it generated. Mode 0600. */
export function secretKeyFile(dataDir: string): string {
  return join(dataDir, 'secret.key');
}

/**
 * `longhaul serve` / `longhaul worker`: the box from `LONGHAUL_SECRET_KEY`, or
 * undefined when it is unset (vaults then answer a clear error and nothing else is
 * affected). A key that is set but malformed stops the process at start.
 */
export function secretBoxFromEnv(env: NodeJS.ProcessEnv = process.env): SecretBox | undefined {
  const key = env[SECRET_KEY_ENV];
  if (key === undefined || key.trim() === '') return undefined;
  return boxOrConfigError(key, previousKeys(env));
}

export type DevSecretKeySource = 'env' | 'file' | 'generated';

/**
 * `longhaul dev`: `LONGHAUL_SECRET_KEY` if set, else the key generated on an earlier
 * start (kept in `<data-dir>/secret.key`), else a new one saved there. Losing the file
 * loses the vault secrets sealed with it, so it is never replaced once written.
 */
export async function resolveDevSecretBox({ dataDir, env = process.env }: { dataDir: string; env?: NodeJS.ProcessEnv }): Promise<{ box: SecretBox; source: DevSecretKeySource }> {
  const fromEnv = secretBoxFromEnv(env);
  if (fromEnv) return { box: fromEnv, source: 'env' };
  const file = secretKeyFile(dataDir);
  try {
    const saved = (await readFile(file, 'utf8')).trim();
    if (saved) return { box: boxOrConfigError(saved, previousKeys(env), file), source: 'file' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = SecretBox.generateKey();
  await mkdir(dataDir, { recursive: true });
  // `wx`: two starts racing never overwrite each other's key.
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' }).catch(async (error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
  await chmod(file, 0o600);
  const written = (await readFile(file, 'utf8')).trim();
  return { box: boxOrConfigError(written, previousKeys(env), file), source: 'generated' };
}

function previousKeys(env: NodeJS.ProcessEnv): string[] {
  return (env[PREVIOUS_SECRET_KEYS_ENV] ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
}

function boxOrConfigError(key: string, previous: string[], source = SECRET_KEY_ENV): SecretBox {
  try {
    return SecretBox.fromBase64(key, { previous, name: source, previousName: `${PREVIOUS_SECRET_KEYS_ENV} entry` });
  } catch (error) {
    if (error instanceof SecretKeyError) throw new ConfigError(error.message, { cause: error });
    throw error;
  }
}
