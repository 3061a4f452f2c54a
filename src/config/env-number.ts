import { ConfigError } from './dev-config.ts';

/**
 * The whole number the environment variable `name` holds, at least `min` and at most `max`
 * when given (`of` says what it counts, for the message); undefined when unset or blank.
 *
 * @throws ConfigError naming the variable, what it must be, and what it held
 * @example
 * wholeNumberFromEnv({ LONGHAUL_SANDBOX_WARM_POOL: '4' }, 'LONGHAUL_SANDBOX_WARM_POOL', { min: 0, max: 64, of: 'containers' }); // → 4
 */
export function wholeNumberFromEnv(env: NodeJS.ProcessEnv, name: string, { min, max, of }: { min: number; max?: number; of: string }): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
    const range = max === undefined ? `at least ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(`${name} must be a whole number of ${of}, ${range}, got ${JSON.stringify(text)}`);
  }
  return value;
}
