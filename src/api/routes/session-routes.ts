import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { CreatedAtQuery, INT32_MAX, PageQuery, QueryBoolean, bidirectionalPageOf, createdAtRange } from '../../schemas/api-common.ts';
import { SessionResourceParams, type FileResourceParams } from '../../schemas/api-file.ts';
import type { MemoryStoreResourceParams } from '../../schemas/api-memory.ts';
import { DeletedSession, Session, SessionCreateParams, SessionStatus, SessionUpdateParams } from '../../schemas/api-session.ts';
import type { UserEventParams } from '../../schemas/events.ts';
import type { SessionView } from '../../client/longhaul.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { checkVaults, createApiSession, publishQuietly, type CreateSessionDeps } from '../create-api-session.ts';
import { clampLimit, cursorOf, oneOrMany, queryArray } from '../list-query.ts';
import { json, jsonBody } from '../openapi-common.ts';
import { apiSessionOf, sessionObject } from '../session-object.ts';

const SessionParam = z.object({ session_id: z.string().min(1) });
const tags = ['sessions'];
/** `sessions.create` with file and memory store resources; repositories are refused by name. */
const SessionCreateWithResources = SessionCreateParams.extend({ resources: z.array(SessionResourceParams).max(100).optional() });

/** `client.beta.sessions` (create, retrieve, update, list, archive, delete): the session service (`Longhaul`) does the work. */
export function registerSessionRoutes(app: ApiApp, deps: ApiDeps & Omit<CreateSessionDeps, keyof ApiDeps>): void {
  const { longhaul } = deps;

  const resourcesOf = async (id: string): Promise<Session['resources']> => [
    ...(deps.files ? (await deps.files.listResources(id, { limit: 100 })).data : []),
    ...((await deps.sessionMemory?.resources(id)) ?? []),
  ];
  const present = async (view: SessionView): Promise<Session> => {
    const session = apiSessionOf(view);
    return sessionObject(session, session, { resources: await resourcesOf(session.id) });
  };
  const load = async (id: string): Promise<Session> => present(await longhaul.sessions.retrieve(id));

  app.openapi(
    createRoute({ method: 'post', path: '/v1/sessions', tags, request: { body: jsonBody(SessionCreateWithResources) }, responses: { 200: json(Session, 'The new session') } }),
    async (c) => {
      const params = c.req.valid('json');
      // Repositories never pass validation; what is left is files and memory stores.
      const resources = (params.resources ?? []).filter((r): r is FileResourceParams | MemoryStoreResourceParams => r.type === 'file' || r.type === 'memory_store');
      return c.json(await createApiSession(deps, { ...params, initial_events: params.initial_events as UserEventParams[] | undefined, resources }), 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/sessions/{session_id}', tags, request: { params: SessionParam }, responses: { 200: json(Session, 'The session') } }),
    async (c) => c.json(await load(c.req.valid('param').session_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sessions/{session_id}',
      tags,
      request: { params: SessionParam, body: jsonBody(SessionUpdateParams) },
      responses: { 200: json(Session, 'The updated session') },
    }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      const params = c.req.valid('json');
      apiSessionOf(await longhaul.sessions.record(id));
      if (params.vault_ids !== undefined) await checkVaults(deps, params.vault_ids, 'vault_ids');
      const updated = await longhaul.sessions.update(id, params);
      await publishQuietly(deps.webhooks, 'session.updated', id, updated.updated_at);
      return c.json(await present(updated), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/sessions',
      tags,
      request: {
        query: PageQuery.extend({
          order: z.enum(['asc', 'desc']).optional(),
          include_archived: QueryBoolean.optional(),
          agent_id: z.string().optional(),
          agent_version: z.coerce.number().int().min(1).max(INT32_MAX).optional(),
          deployment_id: z.string().optional(),
          memory_store_id: z.string().optional(),
          ...CreatedAtQuery,
          statuses: oneOrMany(SessionStatus),
          'statuses[]': oneOrMany(SessionStatus),
        }),
      },
      responses: { 200: json(bidirectionalPageOf(Session), 'Sessions, newest first unless `order=asc`') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await longhaul.sessions.list({
        limit: clampLimit(query.limit),
        cursor: cursorOf(query.page),
        order: query.order,
        includeArchived: query.include_archived,
        agentId: query.agent_id,
        agentVersion: query.agent_version,
        deploymentId: query.deployment_id,
        // The attachments may live in another database than the sessions (the API's stores apart from the engine's).
        ids: query.memory_store_id !== undefined ? ((await deps.sessionMemory?.sessionsWith(query.memory_store_id)) ?? []) : undefined,
        createdAt: createdAtRange(query),
      });
      const statuses = queryArray<SessionStatus>(query, 'statuses');
      const data = await Promise.all(page.data.map(present));
      // Status lives in the event log, so the filter applies within the page.
      const filtered = statuses ? data.filter((s) => statuses.includes(s.status)) : data;
      return c.json({ data: filtered, next_page: page.next_page, prev_page: page.prev_page }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'post', path: '/v1/sessions/{session_id}/archive', tags, request: { params: SessionParam }, responses: { 200: json(Session, 'The archived session') } }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      const before = apiSessionOf(await longhaul.sessions.record(id));
      const archived = await longhaul.sessions.archive(id);
      if (before.archived_at === null) await publishQuietly(deps.webhooks, 'session.archived', id, archived.archived_at ?? archived.updated_at);
      return c.json(await present(archived), 200);
    },
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/v1/sessions/{session_id}', tags, request: { params: SessionParam }, responses: { 200: json(DeletedSession, 'Deleted') } }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      apiSessionOf(await longhaul.sessions.record(id));
      await longhaul.sessions.delete(id);
      // The session's rows go with its workflow's end; its file, memory and skill attachments now.
      // Uploaded files, memory stores and skills stay: they are the caller's.
      await deps.files?.removeResources(id);
      await deps.sessionMemory?.detach(id);
      await deps.skills?.unpinForSession(id);
      await publishQuietly(deps.webhooks, 'session.deleted', id, 'deleted');
      return c.json({ id, type: 'session_deleted' as const }, 200);
    },
  );
}
