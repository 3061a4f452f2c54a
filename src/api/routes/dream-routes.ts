import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { pageCursorOf } from '../../schemas/api-common.ts';
import { Dream, DreamCreateParams, DreamListQuery, DreamSchedule, DreamScheduleParams, type DreamStatus } from '../../schemas/api-dream.ts';
import type { DreamService } from '../../dreams/dream-service.ts';
import type { ApiApp } from '../api-types.ts';
import { clampLimit, cursorOf, queryArray } from '../list-query.ts';
import { json, jsonBody } from '../openapi-common.ts';

const DreamParam = z.object({ dream_id: z.string().min(1) });
const StoreParam = z.object({ memory_store_id: z.string().min(1) });
const DeletedDreamSchedule = z.object({ memory_store_id: z.string(), type: z.literal('dream_schedule_deleted') });
const tags = ['dreams'];

/** `client.beta.dreams`: create, retrieve, list, cancel, archive. */
export function registerDreamRoutes(app: ApiApp, { dreams }: { dreams: DreamService }): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/dreams',
      tags,
      description: 'Starts a dream: a session of its own reads the sessions and the memory store and curates a store. Poll until the status is final.',
      request: { body: jsonBody(DreamCreateParams) },
      responses: { 200: json(Dream, 'The new dream, pending') },
    }),
    async (c) => c.json(await dreams.create(c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/dreams/{dream_id}', tags, request: { params: DreamParam }, responses: { 200: json(Dream, 'The dream') } }),
    async (c) => c.json(await dreams.retrieve(c.req.valid('param').dream_id), 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/dreams', tags, request: { query: DreamListQuery }, responses: { 200: json(pageCursorOf(Dream), 'Dreams, newest first') } }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await dreams.list({
        limit: clampLimit(query.limit),
        cursor: cursorOf(query.page),
        statuses: queryArray<DreamStatus>(query, 'statuses'),
        includeArchived: query.include_archived,
        createdAt: { gt: query['created_at[gt]'], lt: query['created_at[lt]'] },
      });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'post', path: '/v1/dreams/{dream_id}/cancel', tags, request: { params: DreamParam }, responses: { 200: json(Dream, 'The dream, canceled') } }),
    async (c) => c.json(await dreams.cancel(c.req.valid('param').dream_id), 200),
  );

  // Longhaul extension: a memory store's dreams on a cron, through Temporal Schedules as deployments' routines.
  const extension = 'Longhaul extension (not in the Managed Agents API): call it with the SDK\'s generic client.post/get/delete.';
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memory_stores/{memory_store_id}/dream_schedule',
      tags,
      description: `Creates or replaces the store's dream schedule: each fire starts a dream over the sessions that used the store since its last dream (none: no dream). ${extension}`,
      request: { params: StoreParam, body: jsonBody(DreamScheduleParams) },
      responses: { 200: json(DreamSchedule, 'The dream schedule') },
    }),
    async (c) => c.json(await dreams.setSchedule(c.req.valid('param').memory_store_id, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/memory_stores/{memory_store_id}/dream_schedule', tags, description: extension, request: { params: StoreParam }, responses: { 200: json(DreamSchedule, 'The dream schedule') } }),
    async (c) => c.json(await dreams.schedule(c.req.valid('param').memory_store_id), 200),
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/v1/memory_stores/{memory_store_id}/dream_schedule', tags, description: extension, request: { params: StoreParam }, responses: { 200: json(DeletedDreamSchedule, 'Deleted') } }),
    async (c) => {
      const id = c.req.valid('param').memory_store_id;
      await dreams.removeSchedule(id);
      return c.json({ memory_store_id: id, type: 'dream_schedule_deleted' as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memory_stores/{memory_store_id}/dream_schedule/run',
      tags,
      description: `Fires the dream schedule now. ${extension}`,
      request: { params: StoreParam },
      responses: { 200: json(DreamSchedule, 'The dream schedule') },
    }),
    async (c) => c.json(await dreams.runSchedule(c.req.valid('param').memory_store_id), 200),
  );

  app.openapi(
    createRoute({ method: 'post', path: '/v1/dreams/{dream_id}/archive', tags, request: { params: DreamParam }, responses: { 200: json(Dream, 'The dream, archived') } }),
    async (c) => c.json(await dreams.archive(c.req.valid('param').dream_id), 200),
  );
}
