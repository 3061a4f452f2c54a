import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { pageCursorOf } from '../../schemas/api-common.ts';
import {
  CreatedWebhookEndpoint,
  WebhookDelivery,
  WebhookDeliveryListQuery,
  WebhookEndpoint,
  WebhookEndpointCreateParams,
  WebhookEndpointListQuery,
  WebhookEndpointUpdateParams,
} from '../../schemas/api-webhook.ts';
import { WebhooksUnavailableError, type WebhookStore } from '../../store/webhook-store.ts';
import { requireSecretKey } from '../require-secret-key.ts';
import type { ApiApp } from '../api-types.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { SECRET_KEY_RESPONSES, json, jsonBody } from '../openapi-common.ts';

const EndpointParam = z.object({ webhook_endpoint_id: z.string().min(1) });
const tags = ['webhooks'];

/**
 * `/v1/webhook_endpoints`: where events are delivered (Longhaul's own API; the SDK's
 * `webhooks.unwrap` verifies what arrives). The signing secret is in the create
 * response only.
 */
export function registerWebhookRoutes(app: ApiApp, { webhooks }: { webhooks: WebhookStore }): void {
  // Without a key no secret can be kept: say so on every route, before anything is read.
  app.use('/v1/webhook_endpoints', requireSecretKey(webhooks.available, new WebhooksUnavailableError().message));
  app.use('/v1/webhook_endpoints/*', requireSecretKey(webhooks.available, new WebhooksUnavailableError().message));

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook_endpoints',
      tags,
      request: { body: jsonBody(WebhookEndpointCreateParams) },
      responses: { 200: json(CreatedWebhookEndpoint, 'The new endpoint, with its signing secret (shown this once)'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => {
      const { endpoint, secret } = await webhooks.create(c.req.valid('json'));
      return c.json({ ...endpoint, secret }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/webhook_endpoints/{webhook_endpoint_id}', tags, request: { params: EndpointParam }, responses: { 200: json(WebhookEndpoint, 'The endpoint'), ...SECRET_KEY_RESPONSES } }),
    async (c) => c.json(await webhooks.retrieve(c.req.valid('param').webhook_endpoint_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook_endpoints/{webhook_endpoint_id}',
      tags,
      request: { params: EndpointParam, body: jsonBody(WebhookEndpointUpdateParams) },
      responses: { 200: json(WebhookEndpoint, 'The updated endpoint'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => c.json(await webhooks.update(c.req.valid('param').webhook_endpoint_id, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/webhook_endpoints', tags, request: { query: WebhookEndpointListQuery }, responses: { 200: json(pageCursorOf(WebhookEndpoint), 'Endpoints, newest first'), ...SECRET_KEY_RESPONSES } }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await webhooks.list({ limit: clampLimit(query.limit), cursor: cursorOf(query.page), includeArchived: query.include_archived });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook_endpoints/{webhook_endpoint_id}/archive',
      tags,
      request: { params: EndpointParam },
      responses: { 200: json(WebhookEndpoint, 'The archived endpoint: nothing more is delivered to it'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => c.json(await webhooks.archive(c.req.valid('param').webhook_endpoint_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhook_endpoints/{webhook_endpoint_id}/deliveries',
      tags,
      request: { params: EndpointParam, query: WebhookDeliveryListQuery },
      responses: { 200: json(pageCursorOf(WebhookDelivery), 'Deliveries to the endpoint, newest first'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => {
      const id = c.req.valid('param').webhook_endpoint_id;
      await webhooks.retrieve(id);
      const query = c.req.valid('query');
      const page = await webhooks.listDeliveries(id, { limit: clampLimit(query.limit), cursor: cursorOf(query.page), status: query.status });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );
}
