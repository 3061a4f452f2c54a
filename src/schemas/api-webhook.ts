import { z } from 'zod';
import { Metadata, MetadataPatch, PageQuery, QueryBoolean, Timestamp } from './api-common.ts';

/**
 * Outbound webhooks. Deliveries are the SDK's `BetaWebhookEvent` (`client.beta.webhooks.unwrap`
 * verifies them); the endpoints that receive them are Longhaul's own API (the hosted service
 * registers them in its console), under `/v1/webhook_endpoints`.
 */

/** Every event type the SDK's webhook payload names. */
export const WEBHOOK_EVENT_TYPES = [
  'agent.archived', 'agent.created', 'agent.deleted', 'agent.updated',
  'deployment.archived', 'deployment.created', 'deployment.deleted', 'deployment.paused', 'deployment.unpaused', 'deployment.updated',
  'deployment_run.failed', 'deployment_run.started', 'deployment_run.succeeded',
  'environment.archived', 'environment.created', 'environment.deleted', 'environment.updated',
  'external_key.failed', 'external_key.recovered',
  'memory_store.archived', 'memory_store.created', 'memory_store.deleted',
  'session.archived', 'session.budget_reached', 'session.created', 'session.deleted', 'session.idled', 'session.outcome_evaluation_ended',
  'session.pending', 'session.requires_action', 'session.running', 'session.status_idled', 'session.status_rescheduled',
  'session.status_run_started', 'session.status_terminated', 'session.thread_created', 'session.thread_idled', 'session.thread_terminated', 'session.updated',
  'user_profile.enforcement_action_opened', 'user_profile.enforcement_action_resolved', 'user_profile.program_status_updated',
  'vault.archived', 'vault.created', 'vault.deleted',
  'vault_credential.archived', 'vault_credential.created', 'vault_credential.deleted', 'vault_credential.refresh_failed',
] as const;
export const WebhookEventType = z.enum(WEBHOOK_EVENT_TYPES);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

/** `organization_id` and `workspace_id` of every payload: one self-hosted organization, one workspace. */
export const LONGHAUL_ORGANIZATION_ID = 'org_longhaul';
export const LONGHAUL_WORKSPACE_ID = 'wrkspc_default';

/** `BetaWebhookEvent.data`: the type, the id of what it is about, and any fields of that type. */
export type WebhookEventData = { type: WebhookEventType; id: string; organization_id: string; workspace_id: string } & Record<string, unknown>;

/** `BetaWebhookEvent`: what each delivery's body holds. */
export type WebhookPayload = { id: string; type: 'event'; created_at: string; data: WebhookEventData };

const EndpointUrl = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials in it');

const EventTypes = z
  .array(WebhookEventType)
  .min(1, 'event_types must name at least one event type')
  .max(WEBHOOK_EVENT_TYPES.length)
  .meta({ uniqueItems: true })
  .refine((types) => new Set(types).size === types.length, 'event_types must not repeat');

/** A signing secret as Standard Webhooks writes it: `whsec_` and 24–64 random bytes in base64. */
const SigningSecret = z.string().regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'must be "whsec_" followed by 24–64 bytes in base64');

export const WebhookEndpointCreateParams = z.object({
  url: EndpointUrl,
  event_types: EventTypes,
  description: z.string().max(1024).nullish(),
  /** Default: a new random secret, returned once in the create response. */
  secret: SigningSecret.optional(),
  metadata: Metadata.optional(),
});
export type WebhookEndpointCreateParams = z.infer<typeof WebhookEndpointCreateParams>;

export const WebhookEndpointUpdateParams = z.object({
  url: EndpointUrl.optional(),
  event_types: EventTypes.optional(),
  description: z.string().max(1024).nullish(),
  /** `enabled` re-enables an endpoint disabled after failed deliveries; `disabled` stops deliveries. */
  status: z.enum(['enabled', 'disabled']).optional(),
  metadata: MetadataPatch.nullish(),
});
export type WebhookEndpointUpdateParams = z.infer<typeof WebhookEndpointUpdateParams>;

export const DisabledReason = z.discriminatedUnion('type', [
  z.object({ type: z.literal('manual') }),
  /** Deliveries kept failing for about an hour: the endpoint is reported dead, not retried forever. */
  z.object({ type: z.literal('delivery_failures'), message: z.string() }),
]);

export const WebhookEndpoint = z.object({
  id: z.string(),
  type: z.literal('webhook_endpoint'),
  url: z.string(),
  event_types: z.array(WebhookEventType),
  description: z.string().nullable(),
  status: z.enum(['enabled', 'disabled']),
  disabled_reason: DisabledReason.nullable(),
  metadata: Metadata,
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

/** The create response: the endpoint and, this once, its signing secret. */
export const CreatedWebhookEndpoint = WebhookEndpoint.extend({ secret: z.string() });

export const WebhookDelivery = z.object({
  /** The `webhook-id` header: the same on every attempt, so a receiver can deduplicate. */
  id: z.string(),
  type: z.literal('webhook_delivery'),
  endpoint_id: z.string(),
  /** `BetaWebhookEvent.id`: one event delivered to several endpoints has one id. */
  event_id: z.string(),
  event_type: WebhookEventType,
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  last_attempt_at: Timestamp.nullable(),
  last_response_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
  created_at: Timestamp,
  delivered_at: Timestamp.nullable(),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const WebhookEndpointListQuery = PageQuery.extend({ include_archived: QueryBoolean.optional() });
export const WebhookDeliveryListQuery = PageQuery.extend({ status: z.enum(['pending', 'delivered', 'failed']).optional() });
