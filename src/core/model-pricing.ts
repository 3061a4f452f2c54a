import type { Usage } from './usage.ts';

/** List prices in USD per million tokens. Cache writes and reads are priced from `input`. */
export type ModelPrice = { input: number; output: number };

/**
 * List prices of Claude models, matched by id prefix (longest first), so dated
 * ids (`claude-sonnet-4-5-20250929`) price like their alias. Kept in one place:
 * update it when Anthropic's pricing page changes.
 */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-4-8': { input: 5, output: 25 },
  'claude-opus-4-7': { input: 5, output: 25 },
  'claude-opus-4-6': { input: 5, output: 25 },
  'claude-opus-4-5': { input: 5, output: 25 },
  'claude-opus-4-1': { input: 15, output: 75 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-3-7-sonnet': { input: 3, output: 15 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
  'claude-3-haiku': { input: 0.25, output: 1.25 },
  'claude-opus-5': { input: 5, output: 25 },
  'claude-sonnet-5': { input: 3, output: 15 },
  'claude-haiku-5': { input: 1, output: 5 },
};

/** Models not in the table are charged at the highest listed rate, so a budget errs on the safe side. */
export const UNKNOWN_MODEL_PRICE: ModelPrice = { input: 15, output: 75 };

const CACHE_WRITE_5M = 1.25;
const CACHE_READ = 0.1;

export function priceOf(model: string): ModelPrice {
  const match = Object.keys(MODEL_PRICES)
    .filter((prefix) => model === prefix || model.startsWith(`${prefix}-`) || model.startsWith(prefix))
    .sort((a, b) => b.length - a.length)[0];
  return match ? MODEL_PRICES[match]! : UNKNOWN_MODEL_PRICE;
}

/** List cost of a request's usage, in nano-dollars (integers keep sums exact). */
export function listCostNanos(model: string, usage: Usage): number {
  const { input, output } = priceOf(model);
  // USD per MTok = 1000 nano-dollars per token.
  const perToken = (usd: number) => usd * 1000;
  return Math.round(
    usage.input_tokens * perToken(input) +
      usage.cache_creation_input_tokens * perToken(input * CACHE_WRITE_5M) +
      usage.cache_read_input_tokens * perToken(input * CACHE_READ) +
      usage.output_tokens * perToken(output),
  );
}
