import { formatCents } from './budget.ts';

/** Token usage, summed over a session's model requests. */
export type Usage = {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
};

export function zeroUsage(): Usage {
  return { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

/** Counts as an endpoint or an event reports them: any may be missing or null. */
type ReportedCounts = { [K in keyof Usage]?: number | null };

/** Usage as an endpoint or an event reports it (fields may be missing or null), with every count filled in. */
export function usageFrom(usage: ReportedCounts | null | undefined): Usage {
  return {
    input_tokens: usage?.input_tokens ?? 0,
    output_tokens: usage?.output_tokens ?? 0,
    cache_creation_input_tokens: usage?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: usage?.cache_read_input_tokens ?? 0,
  };
}

/**
 * What one model request was billed, from the usage its answer reports: the top-level
 * counts, plus the server-side compaction it ran, which Anthropic reports only among
 * `iterations` (its `compaction` entries are not in the top-level counts).
 */
export function billedUsageFrom(usage: (ReportedCounts & { iterations?: readonly (ReportedCounts & { type: string })[] | null }) | null | undefined): Usage {
  const compactions = (usage?.iterations ?? []).filter((iteration) => iteration.type === 'compaction').map(usageFrom);
  return sumUsage([usageFrom(usage), ...compactions]);
}

/** Adds `delta` into `total` (deterministic integer sums; the workflow keeps its totals this way). */
export function addUsage(total: Usage, delta: Usage): Usage {
  total.input_tokens += delta.input_tokens;
  total.output_tokens += delta.output_tokens;
  total.cache_creation_input_tokens += delta.cache_creation_input_tokens;
  total.cache_read_input_tokens += delta.cache_read_input_tokens;
  return total;
}

/** The sum of `usages`, as a new value. */
export function sumUsage(usages: readonly Usage[]): Usage {
  return usages.reduce(addUsage, zeroUsage());
}

/** A session's totals as `session.usage` reports them: tokens, and the list cost of `costNanos`. */
export function usageSnapshot(total: Usage, costNanos: number) {
  return {
    input_tokens: total.input_tokens,
    output_tokens: total.output_tokens,
    cache_read_input_tokens: total.cache_read_input_tokens,
    cache_creation: { ephemeral_5m_input_tokens: total.cache_creation_input_tokens },
    list_cost: { amount: formatCents(costNanos), currency: 'USD' as const },
  };
}
