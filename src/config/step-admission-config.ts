import { DEFAULT_STEP_ADMISSION, MAX_STEP_WAIT_MS, type StepAdmissionOptions } from '../../activities/model/step-admission.ts';
import { ConfigError } from './dev-config.ts';
import { wholeNumberFromEnv } from './env-number.ts';

/**
 * How a worker puts turns' first steps ahead of other sessions' later steps (`StepAdmission`):
 * - `LONGHAUL_STEP_ADMISSION`: `off` (every step at once), or how many later steps run at once while a turn's first step runs in a busy worker (default 2 per core);
 * - `LONGHAUL_STEP_ADMISSION_MAX_WAIT_MS`: the longest a later step waits (default 1000, at most 10000).
 */
export function stepAdmissionFromEnv(env: NodeJS.ProcessEnv): { stepAdmission?: StepAdmissionOptions | false } {
  const text = env['LONGHAUL_STEP_ADMISSION']?.trim();
  const maxWaitMs = wholeNumberFromEnv(env, 'LONGHAUL_STEP_ADMISSION_MAX_WAIT_MS', { min: 0, max: MAX_STEP_WAIT_MS, of: 'milliseconds' });
  if (text === 'off') {
    if (maxWaitMs !== undefined) throw new ConfigError('LONGHAUL_STEP_ADMISSION_MAX_WAIT_MS has no effect with LONGHAUL_STEP_ADMISSION=off');
    return { stepAdmission: false };
  }
  const later = wholeNumberFromEnv(env, 'LONGHAUL_STEP_ADMISSION', { min: 1, max: 10_000, of: 'steps (or off)' });
  if (later === undefined && maxWaitMs === undefined) return {};
  return { stepAdmission: { laterWhileOpening: later ?? DEFAULT_STEP_ADMISSION.laterWhileOpening, maxWaitMs: maxWaitMs ?? DEFAULT_STEP_ADMISSION.maxWaitMs } };
}
