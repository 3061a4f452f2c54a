import { ConfigError } from './dev-config.ts';
import { wholeNumberFromEnv } from './env-number.ts';

export type ContextSettings = { contextWindowTokens?: number; contextBudgetBytes?: number; serverCompaction?: boolean };

/**
 * How much of a conversation a worker sends the model (see `SessionActivityDeps`):
 * - `LONGHAUL_CONTEXT_WINDOW_TOKENS`: the model's context window (default 200000; e.g. 1000000 for a 1M-token model);
 * - `LONGHAUL_CONTEXT_BUDGET_BYTES`: bytes of transcript a request stays within before outputs are cleared and turns summarised (default 3 per window token);
 * - `LONGHAUL_SERVER_COMPACTION`: `on` or `off`, whether the endpoint compacts itself (default: on for api.anthropic.com).
 */
export function contextSettingsFromEnv(env: NodeJS.ProcessEnv): ContextSettings {
  const settings: ContextSettings = {};
  const window = wholeNumberFromEnv(env, 'LONGHAUL_CONTEXT_WINDOW_TOKENS', { min: 10_000, max: 100_000_000, of: 'tokens' });
  if (window !== undefined) settings.contextWindowTokens = window;
  const budget = wholeNumberFromEnv(env, 'LONGHAUL_CONTEXT_BUDGET_BYTES', { min: 10_000, max: 1_000_000_000, of: 'bytes' });
  if (budget !== undefined) settings.contextBudgetBytes = budget;
  const compaction = env['LONGHAUL_SERVER_COMPACTION']?.trim();
  if (compaction) {
    if (compaction !== 'on' && compaction !== 'off') throw new ConfigError(`LONGHAUL_SERVER_COMPACTION must be on or off, got ${JSON.stringify(compaction)}`);
    settings.serverCompaction = compaction === 'on';
  }
  return settings;
}
