import { MIN_DISK_MB } from '../../sandbox/session-disk.ts';
import type { DockerSandboxDriverOptions } from '../../sandbox/docker-sandbox-driver.ts';
import { ConfigError } from './dev-config.ts';

/**
 * Sandbox defaults an operator sets for every session of a worker (an environment may
 * still set its own): `LONGHAUL_SANDBOX_DISK_MB`, the disk quota of a new session's
 * `/workspace` and `/mnt/session` together.
 */
export function sandboxLimitsFromEnv(env: NodeJS.ProcessEnv): Pick<DockerSandboxDriverOptions, 'diskMb'> {
  const value = env['LONGHAUL_SANDBOX_DISK_MB']?.trim();
  if (!value) return {};
  const diskMb = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(diskMb) || diskMb < MIN_DISK_MB) {
    throw new ConfigError(`LONGHAUL_SANDBOX_DISK_MB must be a whole number of MiB, at least ${MIN_DISK_MB}, got ${JSON.stringify(value)}`);
  }
  return { diskMb };
}

/** `LONGHAUL_GRADER_MODEL`: the model outcome graders use on this worker (default: each session agent's own). */
export function graderModelFromEnv(env: NodeJS.ProcessEnv): { graderModel?: string } {
  const model = env['LONGHAUL_GRADER_MODEL']?.trim();
  return model ? { graderModel: model } : {};
}
