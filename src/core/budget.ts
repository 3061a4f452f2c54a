/**
 * Deterministic money arithmetic for budgets and list costs, shared by the workflow and the API.
 *
 * The API's `BetaMonetaryAmount` is an integer string of minor units (`"2500"` is $25.00);
 * inside, money is nano-dollars, so sums of sub-cent model calls stay exact integers.
 */

const NANOS_PER_CENT = 10_000_000;

/** Most cents an amount may hold: its nano-dollars stay a safe integer. */
export const MAX_CENTS = 900_000_000;

/** The API's budget (`BetaManagedAgentsBudgetLimit`): USD cents as an integer string. */
export type BudgetLimit = { type: 'limit'; max_list_cost: { amount: string; currency: 'USD' } };

/**
 * A budget as a session's workflow holds it. Workflows of sessions created before amounts
 * were minor units hold the API's object with a decimal-dollar amount (`"0.05"`); the
 * shape says which, so those replay and run on unchanged.
 */
export type SpendLimit = { type: 'limit'; max_list_cost_nanos: number } | BudgetLimit;

/** `"2500"` (cents) in nano-dollars. */
export function parseCents(amount: string): number {
  return Number(amount) * NANOS_PER_CENT;
}

/** Nano-dollars as the API's amount: whole cents, rounded to the nearest. */
export function formatCents(nanos: number): string {
  return String(Math.round(nanos / NANOS_PER_CENT));
}

/** The workflow's form of an API budget. */
export function spendLimitOf(budget: BudgetLimit): SpendLimit;
export function spendLimitOf(budget: BudgetLimit | null): SpendLimit | null;
export function spendLimitOf(budget: BudgetLimit | null): SpendLimit | null {
  return budget && { type: 'limit', max_list_cost_nanos: parseCents(budget.max_list_cost.amount) };
}

/** The most the session may spend, in nano-dollars. */
export function limitNanos(limit: SpendLimit): number {
  return 'max_list_cost_nanos' in limit ? limit.max_list_cost_nanos : parseDollars(limit.max_list_cost.amount);
}

/** Whether `spentNanos` has reached the limit (never, without one): a turn stops before spending more. */
export function budgetReached(limit: SpendLimit | null | undefined, spentNanos: number): boolean {
  return limit != null && spentNanos >= limitNanos(limit);
}

/** The budget as the API shows it (in `session.usage`). */
export function apiBudgetOf(limit: SpendLimit | null): BudgetLimit | null {
  return limit && { type: 'limit', max_list_cost: { amount: formatCents(limitNanos(limit)), currency: 'USD' } };
}

/** A decimal-dollar amount (`"0.05"`), as budgets were written before minor units. */
function parseDollars(amount: string): number {
  const [whole = '0', fraction = ''] = amount.split('.');
  return Number(whole) * 1e9 + Number(fraction.padEnd(9, '0').slice(0, 9));
}
