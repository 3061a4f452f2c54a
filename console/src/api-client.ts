import Anthropic, { AuthenticationError } from '@anthropic-ai/sdk';
// Type only (erased in the bundle): the server's answer to /console/config.json.
import type { ConsoleConfig } from '../../src/api/console-config.ts';

export type Session = Anthropic.Beta.Sessions.BetaManagedAgentsSession;
export type SessionEvent = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent;
export type { ConsoleConfig };

// sessionStorage: the key lives as long as the tab, never in a URL, a cookie or a log.
const KEY_ITEM = 'longhaul.apiKey';

export const storedKey = (): string | null => sessionStorage.getItem(KEY_ITEM);
export const storeKey = (key: string) => sessionStorage.setItem(KEY_ITEM, key);
export const forgetKey = () => sessionStorage.removeItem(KEY_ITEM);

/** The official SDK against this page's own server: the console uses the public API only. */
export function clientFor(apiKey: string): Anthropic {
  return new Anthropic({ apiKey, baseURL: window.location.origin, dangerouslyAllowBrowser: true, maxRetries: 1 });
}

/** The server's console settings (the Temporal UI to link to), behind the same key as the API. */
export async function fetchConfig(apiKey: string): Promise<ConsoleConfig> {
  const response = await fetch(`${window.location.origin}/console/config.json`, { headers: { 'x-api-key': apiKey } });
  if (response.status === 401) throw new KeyRejectedError();
  if (!response.ok) throw new Error(`console config: HTTP ${response.status}`);
  return (await response.json()) as ConsoleConfig;
}

/** The server answered 401 to the console's own config request. */
export class KeyRejectedError extends Error {
  constructor() {
    super('the server rejected this API key');
  }
}

export const isAuthError = (error: unknown) => error instanceof AuthenticationError || error instanceof KeyRejectedError;

/**
 * A list cost in dollars, or null while the server has none. The API's `amount` is an
 * integer string of cents (`BetaMonetaryAmount` minor units: `"2500"` is $25.00).
 */
export function dollarsOf(cost: { amount: string; currency: string } | null | undefined): number | null {
  return cost && cost.currency === 'USD' ? Number(cost.amount) / 100 : null;
}

/** A session's list cost in dollars, or null while the server has none. */
export function costUsd(usage: { list_cost?: { amount: string; currency: string } | null } | undefined): number | null {
  return dollarsOf(usage?.list_cost);
}

export const formatUsd = (usd: number | null) => (usd === null ? '—' : `$${usd.toFixed(2)}`);

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return date.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
