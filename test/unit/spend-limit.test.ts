import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiBudgetOf, formatCents, limitNanos, parseCents, spendLimitOf, type BudgetLimit } from '../../src/core/budget.ts';
import { BudgetLimit as BudgetLimitSchema } from '../../src/schemas/api-session.ts';

const cents = (amount: string): BudgetLimit => ({ type: 'limit', max_list_cost: { amount, currency: 'USD' } });

test('API amounts are cents; inside they are nano-dollars, shown rounded to the nearest cent', () => {
  assert.equal(parseCents('2500'), 25e9);
  assert.equal(parseCents('0'), 0);
  assert.deepEqual([formatCents(0), formatCents(4_999_999), formatCents(5_000_000), formatCents(25e9), formatCents(67_500_000)], ['0', '0', '1', '2500', '7']);
});

test('a workflow holds nano-dollars; a budget written before minor units keeps its decimal dollars', () => {
  assert.equal(limitNanos(spendLimitOf(cents('5'))), 50_000_000);
  // The shape tells the unit: "5" in the API's object from before is five dollars, not five cents.
  assert.equal(limitNanos(cents('5')), 5e9);
  assert.equal(limitNanos(cents('0.05')), 50_000_000);
  assert.deepEqual(apiBudgetOf(spendLimitOf(cents('1234'))), cents('1234'));
  assert.deepEqual(apiBudgetOf(cents('0.05')), cents('5'));
  assert.equal(apiBudgetOf(null), null);
});

test('the schema takes integer cents only, and names the field it refuses', () => {
  for (const amount of ['0', '5', '2500', '900000000']) assert.ok(BudgetLimitSchema.safeParse(cents(amount)).success, amount);
  for (const amount of ['0.05', '05', '-1', '', '1e3', '900000001', '1000000000']) {
    const result = BudgetLimitSchema.safeParse(cents(amount));
    assert.ok(!result.success, amount);
    assert.deepEqual(result.error.issues[0]?.path, ['max_list_cost', 'amount'], amount);
  }
});
