import { ApplicationFailure, log } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import { rootContextFetch } from '../src/net/root-context-fetch.ts';
import type { WebhookStore } from '../src/store/webhook-store.ts';

/** How long an endpoint has to answer. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The most of an answer read (it is only for the delivery's record): the endpoint is not ours to trust. */
const MAX_RESPONSE_BYTES = 4096;

/**
 * The activities of `webhookDeliveryWorkflow`. The endpoint is outside: nothing it sends
 * is followed (redirects are failures) or read past a few KiB, and its secret never
 * leaves this function except as the signature.
 */
export function createWebhookActivities({ store, fetch: fetchFn = rootContextFetch }: { store: WebhookStore; fetch?: typeof fetch }) {
  return {
    async deliverWebhook({ deliveryId, endpointId, body }: { deliveryId: string; endpointId: string; body: string }): Promise<'delivered' | 'skipped'> {
      const endpoint = await store.retrieve(endpointId);
      if (endpoint.archived_at !== null || endpoint.status !== 'enabled') {
        // Switched off while this delivery waited: stop here, and say so in its record.
        await store.markFailed(deliveryId);
        return 'skipped';
      }
      const secret = await store.secretOf(endpointId);
      const sentAt = new Date();
      const signature = new Webhook(secret).sign(deliveryId, sentAt, body);
      let responseStatus: number | null = null;
      let error: string | null = null;
      try {
        const response = await fetchFn(endpoint.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Longhaul-Webhooks/1',
            'webhook-id': deliveryId,
            'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
            'webhook-signature': signature,
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        responseStatus = response.status;
        const excerpt = await readBounded(response);
        if (response.status < 200 || response.status >= 300) error = `the endpoint answered ${response.status}${excerpt ? `: ${excerpt}` : ''}`;
      } catch (cause) {
        error = cause instanceof Error && cause.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : `could not reach the endpoint (${causeOf(cause)})`;
      }
      await store.recordAttempt(deliveryId, { at: sentAt.toISOString(), responseStatus, error, delivered: error === null });
      // Benign: an endpoint that is down is the receiver's state, not a fault of this worker.
      // Temporal logs it at debug level instead of a warning with a stack per attempt (a
      // receiver down for an hour filled the worker's log); the attempt is in the delivery's
      // record, and giving up says so once, below.
      if (error !== null) throw ApplicationFailure.create({ message: error, type: 'WebhookDeliveryFailed', category: ApplicationFailureCategory.BENIGN });
      return 'delivered';
    },

    /** The attempts ran out: the delivery failed, and the endpoint is disabled until someone re-enables it. */
    async webhookGaveUp({ deliveryId, endpointId, attempts, lastError }: { deliveryId: string; endpointId: string; attempts: number; lastError: string }): Promise<void> {
      await store.markFailed(deliveryId);
      const endpoint = await store.retrieve(endpointId);
      if (endpoint.archived_at !== null || endpoint.status !== 'enabled') return;
      await store.disable(endpointId, `delivery ${deliveryId} failed ${attempts} attempts; the last: ${lastError}`.slice(0, 1000));
      // Not its URL: a receiver's URL may carry a token.
      log.warn('webhook endpoint disabled: its deliveries kept failing', { endpointId, deliveryId, attempts, lastError: lastError.slice(0, 300) });
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;

async function readBounded(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_RESPONSE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, 200).toString('utf8').replace(/\s+/g, ' ').trim();
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
