import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WEBHOOK_DELIVERY_WORKFLOW, type WebhookDeliveryInput, type WebhookRetry } from '../../workflows/contract.ts';
import { LONGHAUL_ORGANIZATION_ID, LONGHAUL_WORKSPACE_ID, WEBHOOK_EVENT_TYPES, type WebhookEventType, type WebhookPayload } from '../schemas/api-webhook.ts';
import { deterministicId } from '../store/ids.ts';
import type { SessionStore, StoredEvent } from '../store/session-store.ts';
import type { WebhookStore } from '../store/webhook-store.ts';
import { sessionWebhookEvents } from './session-webhook-events.ts';

export type PublishOptions = {
  /** What makes this event once: publishing the same key again delivers nothing new. */
  key: string;
  /** When it happened; default now. */
  at?: string | undefined;
};

/**
 * Turns what happens (a session idles, a deployment run starts) into webhook deliveries:
 * for each enabled endpoint subscribed to the type, one `webhookDeliveryWorkflow`, whose
 * id comes from the event's key and the endpoint, so publishing again (a retried
 * activity) starts nothing new. Publishing never waits for a delivery: a slow or dead
 * receiver cannot hold up a session.
 */
export class WebhookPublisher {
  readonly store: WebhookStore;
  readonly #client: Client;
  readonly #taskQueue: string;
  readonly #storeId: string;
  readonly #retry: WebhookRetry | undefined;
  readonly #observed = new WeakSet<SessionStore>();

  constructor({ client, taskQueue, store, storeId, retry }: { client: Client; taskQueue: string; store: WebhookStore; storeId: string; retry?: WebhookRetry | undefined }) {
    this.#client = client;
    this.#taskQueue = taskQueue;
    this.store = store;
    this.#storeId = storeId;
    this.#retry = retry;
  }

  async publish(data: { type: string; id: string } & Record<string, unknown>, { key, at }: PublishOptions): Promise<void> {
    // Only what the SDK names (there is no `memory_store.updated`, say).
    if (!this.store.available || !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(data.type)) return;
    const type = data.type as WebhookEventType;
    const endpoints = await this.store.subscribers(type);
    if (endpoints.length === 0) return;
    const eventId = deterministicId('wevt', key);
    const payload: WebhookPayload = {
      id: eventId,
      type: 'event',
      created_at: at ?? new Date().toISOString(),
      data: { ...data, type, id: data.id, organization_id: LONGHAUL_ORGANIZATION_ID, workspace_id: LONGHAUL_WORKSPACE_ID },
    };
    const body = JSON.stringify(payload);
    await Promise.all(
      endpoints.map(async (endpoint) => {
        const deliveryId = deterministicId('msg', eventId, endpoint.id);
        await this.store.startDelivery({ id: deliveryId, endpoint_id: endpoint.id, event_id: eventId, event_type: type });
        const input: WebhookDeliveryInput = { storeId: this.#storeId, deliveryId, endpointId: endpoint.id, body, ...(this.#retry ? { retry: this.#retry } : {}) };
        try {
          await this.#client.workflow.start(WEBHOOK_DELIVERY_WORKFLOW, { taskQueue: this.#taskQueue, workflowId: `webhook:${deliveryId}`, args: [input] });
        } catch (error) {
          if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        }
      }),
    );
  }

  /** Publishes the session events written through `store` from now on (once per store, however many workers share it). */
  observe(store: SessionStore): void {
    if (this.#observed.has(store)) return;
    this.#observed.add(store);
    store.observeAppends((logId, events) => this.publishSessionEvents(logId, events));
  }

  /** The webhook events of a session's appended log events (threads' own logs tell nothing: their events reach the session's log too). */
  async publishSessionEvents(logId: string, events: readonly StoredEvent[]): Promise<void> {
    if (!logId.startsWith('sesn_')) return;
    for (const event of sessionWebhookEvents(events)) {
      await this.publish({ type: event.type, id: logId, ...event.fields }, { key: event.key, at: event.at });
    }
  }
}
