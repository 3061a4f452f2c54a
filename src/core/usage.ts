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

/** Usage as an endpoint or an event reports it (fields may be missing or null), with every count filled in. */
export function usageFrom(usage: { [K in keyof Usage]?: number | null } | null | undefined): Usage {
  return {
    input_tokens: usage?.input_tokens ?? 0,
    output_tokens: usage?.output_tokens ?? 0,
    cache_creation_input_tokens: usage?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: usage?.cache_read_input_tokens ?? 0,
  };
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
