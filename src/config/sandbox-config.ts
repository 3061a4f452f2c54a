import { MIN_DISK_MB } from '../../sandbox/session-disk.ts';
import type { DockerSandboxDriverOptions } from '../../sandbox/docker-sandbox-driver.ts';
import { ConfigError } from './dev-config.ts';
import { wholeNumberFromEnv } from './env-number.ts';

/**
 * Sandbox defaults an operator sets for every session of a worker (an environment may
 * still set its own disk and CPU cap):
 * - `LONGHAUL_SANDBOX_DISK_MB`: the disk quota of a new session's `/workspace` and `/mnt/session` together;
 * - `LONGHAUL_SANDBOX_CPUS`: each sandbox's CPU cap in cores (fractions allowed, e.g. `0.5`);
 * - `LONGHAUL_SANDBOX_CPU_SHARES`: each sandbox's CPU weight when cores are contended (Docker `CpuShares`; a container's default is 1024).
 * See `DEFAULT_SANDBOX_CPUS` for why the defaults are what they are.
 */
export function sandboxLimitsFromEnv(env: NodeJS.ProcessEnv): Pick<DockerSandboxDriverOptions, 'diskMb' | 'cpus' | 'cpuShares'> {
  const diskMb = wholeNumberFromEnv(env, 'LONGHAUL_SANDBOX_DISK_MB', { min: MIN_DISK_MB, of: 'MiB' });
  const cpus = coresFromEnv(env, 'LONGHAUL_SANDBOX_CPUS');
  // Docker takes 2 to 262144.
  const cpuShares = wholeNumberFromEnv(env, 'LONGHAUL_SANDBOX_CPU_SHARES', { min: 2, max: 262_144, of: "CPU shares (a container's default is 1024)" });
  return { ...(diskMb !== undefined && { diskMb }), ...(cpus !== undefined && { cpus }), ...(cpuShares !== undefined && { cpuShares }) };
}

/** A number of cores from 0.01 to 1024 (fractions allowed); undefined when unset. @throws ConfigError naming it */
function coresFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  const cores = Number(text);
  // Docker takes the cap in billionths of a core; below 0.01 a sandbox cannot start a shell in time.
  if (!/^\d+(\.\d+)?$/.test(text) || !(cores >= 0.01 && cores <= 1024)) {
    throw new ConfigError(`${name} must be a number of cores from 0.01 to 1024, got ${JSON.stringify(text)}`);
  }
  return cores;
}

/**
 * Warm containers `longhaul dev` keeps per kind of sandbox: one machine, one worker, and
 * someone waiting for the first tool call of every session they start; two cover a
 * session and its retry, or two started together, for about 32 MiB of idle memory.
 */
export const DEV_WARM_POOL_SIZE = 2;

/**
 * Warm containers `longhaul dev` keeps per kind at most: after a burst of new sessions its
 * pool grows to the burst's size (up to this), with CPU nobody else is using, so the next
 * burst of that size starts warm; ten minutes after, it is back to `DEV_WARM_POOL_SIZE`.
 * Fifty sessions created at once on two cores get their first tool result within about
 * 2 s from a pool that size, against about 11 s when 48 of them start cold (see the
 * README's "Many sessions at once"); an idle container costs about 13 MiB while it waits
 * (634 MiB for the bench's fifty).
 */
export const DEV_WARM_POOL_MAX = 64;

/**
 * Warm containers `longhaul worker` keeps by default: none. A fleet runs several workers
 * per Docker host, each keeping its own pool of idle containers, and its environments
 * often install packages or attach vaults, which a pre-started container cannot serve;
 * the operator who knows the mix sets `LONGHAUL_SANDBOX_WARM_POOL` (and
 * `LONGHAUL_SANDBOX_WARM_POOL_MAX` for a pool that grows with bursts).
 */
export const WORKER_WARM_POOL_SIZE = 0;

/**
 * The warm pool's size per kind of sandbox asked for:
 * - `LONGHAUL_SANDBOX_WARM_POOL`: containers a worker keeps started ahead of sessions, at
 *   least (`fallback` when unset);
 * - `LONGHAUL_SANDBOX_WARM_POOL_MAX`: at most, when bursts of new sessions ask for more
 *   (`maxFallback` when unset, but never below the pool, and `0` with a pool of `0`: that
 *   turns warm containers off).
 */
export function sandboxWarmPoolFromEnv(
  env: NodeJS.ProcessEnv,
  { fallback, maxFallback = 0 }: { fallback: number; maxFallback?: number },
): Required<Pick<DockerSandboxDriverOptions, 'warmPoolSize' | 'warmPoolMax'>> {
  const size = wholeNumberFromEnv(env, 'LONGHAUL_SANDBOX_WARM_POOL', { min: 0, max: 64, of: 'containers' }) ?? fallback;
  const max = wholeNumberFromEnv(env, 'LONGHAUL_SANDBOX_WARM_POOL_MAX', { min: 0, max: 64, of: 'containers' });
  if (max !== undefined && max < size) throw new ConfigError(`LONGHAUL_SANDBOX_WARM_POOL_MAX (${max}) must be at least LONGHAUL_SANDBOX_WARM_POOL (${size})`);
  return { warmPoolSize: size, warmPoolMax: max ?? (size === 0 ? 0 : Math.max(size, maxFallback)) };
}

/**
 * `LONGHAUL_SANDBOX_CONCURRENT_STARTS`: container starts a worker runs at once (the rest
 * wait, sessions' before warm-pool refills); unset, the driver's `defaultConcurrentStarts()`.
 */
export function sandboxConcurrentStartsFromEnv(env: NodeJS.ProcessEnv): Pick<DockerSandboxDriverOptions, 'concurrentStarts'> {
  const starts = wholeNumberFromEnv(env, 'LONGHAUL_SANDBOX_CONCURRENT_STARTS', { min: 1, max: 64, of: 'container starts' });
  return starts === undefined ? {} : { concurrentStarts: starts };
}

/** Every sandbox setting a worker takes from its environment; `warmPool` is the command's own pool size and maximum. */
export function sandboxDriverOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  { warmPool }: { warmPool: { fallback: number; maxFallback?: number } },
): Pick<DockerSandboxDriverOptions, 'diskMb' | 'cpus' | 'cpuShares' | 'concurrentStarts'> & Required<Pick<DockerSandboxDriverOptions, 'warmPoolSize' | 'warmPoolMax'>> {
  return { ...sandboxLimitsFromEnv(env), ...sandboxWarmPoolFromEnv(env, warmPool), ...sandboxConcurrentStartsFromEnv(env) };
}

/** `LONGHAUL_GRADER_MODEL`: the model outcome graders use on this worker (default: each session agent's own). */
export function graderModelFromEnv(env: NodeJS.ProcessEnv): { graderModel?: string } {
  const model = env['LONGHAUL_GRADER_MODEL']?.trim();
  return model ? { graderModel: model } : {};
}
