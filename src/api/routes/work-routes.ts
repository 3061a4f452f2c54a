import { createRoute } from '@hono/zod-openapi';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { PageQuery, pageCursorOf } from '../../schemas/api-common.ts';
import { Work, WorkHeartbeatQuery, WorkHeartbeatResponse, WorkPollQuery, WorkQueueStats, WorkStopParams, WorkUpdateParams } from '../../schemas/api-work.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { FORBIDDEN_RESPONSES, json, jsonBody, PRECONDITION_RESPONSES } from '../openapi-common.ts';
import { requireCaller } from '../worker-credentials.ts';

const EnvironmentParam = z.object({ environment_id: z.string().min(1) });
const WorkParam = EnvironmentParam.extend({ work_id: z.string().min(1) });
const tags = ['environments'];
/** How often a long poll looks again while it waits: the queue is filled by workers, maybe in other processes. */
const LONG_POLL_STEP_MS = 100;

/**
 * `client.beta.environments.work`: the work queue of a self-hosted environment. Each route
 * takes the credential the SDK documents for it (`requireCaller`): the environment's key to
 * poll, acknowledge and list, an item's own token (or the key) to heartbeat, an API key to
 * retrieve and update.
 */
export function registerWorkRoutes(app: ApiApp, { store, longhaul }: Pick<ApiDeps, 'store' | 'longhaul'>): void {
  const { work } = store;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/environments/{environment_id}/work/poll',
      tags,
      request: { params: EnvironmentParam, query: WorkPollQuery, headers: z.object({ 'anthropic-worker-id': z.string().max(256).optional() }) },
      responses: { 200: json(Work.nullable(), 'The item handed out, with its `secret`; null when none waits'), ...FORBIDDEN_RESPONSES },
    }),
    async (c) => {
      const { environment_id } = c.req.valid('param');
      requireCaller(c, ['environment'], environment_id);
      const { block_ms, reclaim_older_than_ms } = c.req.valid('query');
      const options = { reclaimOlderThanMs: reclaim_older_than_ms ?? 5000, workerId: c.req.valid('header')['anthropic-worker-id'] };
      const deadline = Date.now() + (block_ms ?? 0);
      for (;;) {
        const item = await work.poll(environment_id, options);
        if (item !== null || Date.now() >= deadline) return c.json(item, 200);
        await sleep(Math.min(LONG_POLL_STEP_MS, deadline - Date.now()));
      }
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/environments/{environment_id}/work/{work_id}/ack',
      tags,
      request: { params: WorkParam },
      responses: { 200: json(Work, 'Taken off the queue: `starting`'), ...FORBIDDEN_RESPONSES },
    }),
    async (c) => {
      const { environment_id, work_id } = c.req.valid('param');
      requireCaller(c, ['environment'], environment_id);
      return c.json(await work.ack(environment_id, work_id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/environments/{environment_id}/work/{work_id}/heartbeat',
      tags,
      request: { params: WorkParam, query: WorkHeartbeatQuery },
      responses: { 200: json(WorkHeartbeatResponse, 'The lease, extended unless the item is stopping'), ...FORBIDDEN_RESPONSES, ...PRECONDITION_RESPONSES },
    }),
    async (c) => {
      const { environment_id, work_id } = c.req.valid('param');
      requireCaller(c, ['work', 'environment'], environment_id, work_id);
      const { expected_last_heartbeat, desired_ttl_seconds } = c.req.valid('query');
      return c.json(await work.heartbeat(environment_id, work_id, { expected: expected_last_heartbeat, ttlSeconds: desired_ttl_seconds }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/environments/{environment_id}/work/{work_id}/stop',
      tags,
      request: { params: WorkParam, body: jsonBody(WorkStopParams) },
      responses: { 200: json(Work, '`stopped`, or `stopping` until its worker hears it'), ...FORBIDDEN_RESPONSES },
    }),
    async (c) => {
      const { environment_id, work_id } = c.req.valid('param');
      requireCaller(c, ['api_key', 'environment', 'work'], environment_id, work_id);
      const stopped = await work.stop(environment_id, work_id, { force: c.req.valid('json').force ?? false });
      // A session still waiting on tool calls queues a new item for another worker.
      if (stopped.data.type === 'session') await longhaul.sessions.workReleased(stopped.data.id);
      return c.json(stopped, 200);
    },
  );

  // Before `{work_id}`: `stats` is not an item.
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/environments/{environment_id}/work/stats',
      tags,
      request: { params: EnvironmentParam },
      responses: { 200: json(WorkQueueStats, 'How deep the queue is and who polls it'), ...FORBIDDEN_RESPONSES },
    }),
    async (c) => {
      const { environment_id } = c.req.valid('param');
      requireCaller(c, ['api_key', 'environment'], environment_id);
      return c.json(await work.stats(environment_id), 200);
    },
  );
  app.openapi(
    createRoute({ method: 'get', path: '/v1/environments/{environment_id}/work/{work_id}', tags, request: { params: WorkParam }, responses: { 200: json(Work, 'The item'), ...FORBIDDEN_RESPONSES } }),
    async (c) => {
      const { environment_id, work_id } = c.req.valid('param');
      requireCaller(c, ['api_key'], environment_id);
      return c.json(await work.retrieve(environment_id, work_id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/environments/{environment_id}/work/{work_id}',
      tags,
      request: { params: WorkParam, body: jsonBody(WorkUpdateParams) },
      responses: { 200: json(Work, 'The item with its metadata patched'), ...FORBIDDEN_RESPONSES },
    }),
    async (c) => {
      const { environment_id, work_id } = c.req.valid('param');
      requireCaller(c, ['api_key'], environment_id);
      return c.json(await work.updateMetadata(environment_id, work_id, c.req.valid('json').metadata), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/environments/{environment_id}/work',
      tags,
      request: { params: EnvironmentParam, query: PageQuery },
      responses: { 200: json(pageCursorOf(Work), 'The items, newest first'), ...FORBIDDEN_RESPONSES },
    }),
    async (c) => {
      const { environment_id } = c.req.valid('param');
      requireCaller(c, ['environment'], environment_id);
      const query = c.req.valid('query');
      const page = await work.list(environment_id, { limit: clampLimit(query.limit), cursor: cursorOf(query.page) });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

}
