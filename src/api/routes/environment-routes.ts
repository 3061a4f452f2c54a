import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { PageQuery, QueryBoolean, pageCursorOf } from '../../schemas/api-common.ts';
import { CreatedEnvironment, Environment, EnvironmentCreateParams, EnvironmentKey, EnvironmentUpdateParams } from '../../schemas/api-environment.ts';
import { BadRequestError } from '../api-errors.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { json, jsonBody } from '../openapi-common.ts';

const EnvironmentParam = z.object({ environment_id: z.string().min(1) });
const EnvironmentDeleted = z.object({ id: z.string(), type: z.literal('environment_deleted') });
const tags = ['environments'];

/** `client.beta.environments`: cloud environments (Docker sandboxes) and self-hosted ones (see `work-routes.ts`). */
export function registerEnvironmentRoutes(app: ApiApp, { environments, store }: Pick<ApiDeps, 'environments' | 'store'>): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/environments',
      tags,
      request: { body: jsonBody(EnvironmentCreateParams) },
      responses: { 200: json(CreatedEnvironment, 'The new environment; a self-hosted one with its workers\' `environment_key`, shown only here') },
    }),
    async (c) => {
      const environment = await environments.create(c.req.valid('json'));
      if (environment.config.type !== 'self_hosted') return c.json(environment, 200);
      return c.json({ ...environment, environment_key: await store.work.issueEnvironmentKey(environment.id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/environments/{environment_id}/environment_key',
      tags,
      description: 'Longhaul: a new key for a self-hosted environment\'s workers. The old key stops working at once.',
      request: { params: EnvironmentParam },
      responses: { 200: json(EnvironmentKey, 'The new key, shown only here') },
    }),
    async (c) => {
      const environment = await environments.retrieve(c.req.valid('param').environment_id);
      if (environment.config.type !== 'self_hosted') throw new BadRequestError(`environment ${environment.id} is ${environment.config.type}: only a self_hosted environment has workers with a key`);
      const key = await store.work.issueEnvironmentKey(environment.id);
      return c.json({ type: 'environment_key' as const, environment_id: environment.id, environment_key: key }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/environments/{environment_id}', tags, request: { params: EnvironmentParam }, responses: { 200: json(Environment, 'The environment') } }),
    async (c) => c.json(await environments.retrieve(c.req.valid('param').environment_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/environments/{environment_id}',
      tags,
      request: { params: EnvironmentParam, body: jsonBody(EnvironmentUpdateParams) },
      responses: { 200: json(Environment, 'The updated environment') },
    }),
    async (c) => c.json(await environments.update(c.req.valid('param').environment_id, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/environments',
      tags,
      request: { query: PageQuery.extend({ include_archived: QueryBoolean.optional() }) },
      responses: { 200: json(pageCursorOf(Environment), 'Environments, newest first') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await environments.list({ limit: clampLimit(query.limit), cursor: cursorOf(query.page), includeArchived: query.include_archived });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'post', path: '/v1/environments/{environment_id}/archive', tags, request: { params: EnvironmentParam }, responses: { 200: json(Environment, 'The archived environment') } }),
    async (c) => c.json(await environments.archive(c.req.valid('param').environment_id), 200),
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/v1/environments/{environment_id}', tags, request: { params: EnvironmentParam }, responses: { 200: json(EnvironmentDeleted, 'Deleted') } }),
    async (c) => {
      const id = c.req.valid('param').environment_id;
      await environments.delete(id);
      return c.json({ id, type: 'environment_deleted' as const }, 200);
    },
  );
}
