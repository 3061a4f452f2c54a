import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contextSettingsFromEnv } from '../../src/config/context-config.ts';
import { ConfigError } from '../../src/config/dev-config.ts';

test('context settings come from LONGHAUL_CONTEXT_* and LONGHAUL_SERVER_COMPACTION; unset means the worker defaults', () => {
  assert.deepEqual(contextSettingsFromEnv({}), {});
  assert.deepEqual(contextSettingsFromEnv({ LONGHAUL_CONTEXT_WINDOW_TOKENS: ' 1000000 ', LONGHAUL_CONTEXT_BUDGET_BYTES: '250000', LONGHAUL_SERVER_COMPACTION: 'off' }), {
    contextWindowTokens: 1_000_000,
    contextBudgetBytes: 250_000,
    serverCompaction: false,
  });
  assert.deepEqual(contextSettingsFromEnv({ LONGHAUL_SERVER_COMPACTION: 'on' }), { serverCompaction: true });
});

test('bad context settings name the variable and what it takes', () => {
  const fails = (env: NodeJS.ProcessEnv, pattern: RegExp) => assert.throws(() => contextSettingsFromEnv(env), (error: unknown) => error instanceof ConfigError && pattern.test(error.message));
  fails({ LONGHAUL_CONTEXT_WINDOW_TOKENS: '200k' }, /LONGHAUL_CONTEXT_WINDOW_TOKENS must be a whole number of tokens, from 10000/);
  fails({ LONGHAUL_CONTEXT_WINDOW_TOKENS: '500' }, /got "500"/);
  fails({ LONGHAUL_CONTEXT_BUDGET_BYTES: '-1' }, /LONGHAUL_CONTEXT_BUDGET_BYTES must be a whole number of bytes/);
  fails({ LONGHAUL_SERVER_COMPACTION: 'yes' }, /LONGHAUL_SERVER_COMPACTION must be on or off, got "yes"/);
});
