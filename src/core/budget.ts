/** Deterministic money arithmetic for budgets, shared by the workflow and the API. */

/** A decimal USD amount (`"0.05"`) in nano-dollars: integers keep sums exact. */
export function parseUsd(amount: string): number {
  const [whole = '0', fraction = ''] = amount.split('.');
  return Number(whole) * 1e9 + Number(fraction.padEnd(9, '0').slice(0, 9));
}
