import { ApplicationFailure, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhook-activities.ts';
import type { WebhookDeliveryInput, WebhookRetry } from './contract.ts';

/** About an hour of attempts: 1 s, doubling to 10 minutes apart, 15 in all. */
export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = { initialIntervalMs: 1_000, maximumIntervalMs: 600_000, maximumAttempts: 15 };

/**
 * Delivers one event to one endpoint: the activity signs and posts it, retried with
 * backoff (at least once; the `webhook-id` stays the same, so a receiver can
 * deduplicate). When the attempts run out the delivery is marked failed and the
 * endpoint disabled with the reason: a dead endpoint is reported, not retried forever.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<'delivered' | 'failed'> {
  const retry = input.retry ?? DEFAULT_WEBHOOK_RETRY;
  // A local activity: the attempt runs on this worker at once, without an activity task's
  // round trip through the server; past a minute its retries wait on durable timers.
  const { deliverWebhook } = proxyLocalActivities<WebhookActivities>({
    // The request's own timeout is 10 s; the rest is reading the endpoint and recording the attempt.
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: retry.initialIntervalMs, backoffCoefficient: 2, maximumInterval: retry.maximumIntervalMs, maximumAttempts: retry.maximumAttempts },
  });
  const { webhookGaveUp } = proxyActivities<WebhookActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  try {
    await deliverWebhook({ deliveryId: input.deliveryId, endpointId: input.endpointId, body: input.body });
    return 'delivered';
  } catch (error) {
    // The attempt's own message (an activity failure wraps it; a local one may not).
    const cause = error instanceof ApplicationFailure ? error.message : ((error as { cause?: { message?: string } }).cause?.message ?? String(error));
    await webhookGaveUp({ deliveryId: input.deliveryId, endpointId: input.endpointId, attempts: retry.maximumAttempts, lastError: cause });
    return 'failed';
  }
}
