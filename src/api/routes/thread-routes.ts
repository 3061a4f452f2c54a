import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { PageQuery, pageCursorOf } from '../../schemas/api-common.ts';
import { SessionEventObject } from '../../schemas/api-events.ts';
import { SessionThread, SessionThreadStatus } from '../../schemas/api-thread.ts';
import { BadRequestError } from '../api-errors.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { clampLimit, oneOrMany, queryArray } from '../list-query.ts';
import { json } from '../openapi-common.ts';
import { apiSessionOf } from '../session-object.ts';
import { streamSessionEvents } from '../stream-session-events.ts';
import { StreamQuery, listEventsPage, streamOptionsOf } from './event-routes.ts';

const SessionParam = z.object({ session_id: z.string().min(1) });
const ThreadParam = SessionParam.extend({ thread_id: z.string().min(1) });
const tags = ['threads'];

/** `client.beta.sessions.threads` (list, retrieve, archive) and `.threads.events` (list, stream). */
export function registerThreadRoutes(app: ApiApp, deps: ApiDeps & { streamKeepaliveMs: number }): void {
  const { longhaul, store } = deps;
  const existing = async (id: string) => apiSessionOf(await longhaul.sessions.record(id));

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/sessions/{session_id}/threads',
      tags,
      request: { params: SessionParam, query: PageQuery.extend({ statuses: oneOrMany(SessionThreadStatus), 'statuses[]': oneOrMany(SessionThreadStatus) }) },
      responses: { 200: json(pageCursorOf(SessionThread), 'The primary thread first, then the threads the session started, oldest first') },
    }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      await existing(id);
      const query = c.req.valid('query');
      const threads = await longhaul.threads.list(id, { statuses: queryArray<SessionThread['status']>(query, 'statuses') });
      const limit = clampLimit(query.limit);
      const offset = threadCursorOf(query.page);
      const data = threads.slice(offset, offset + limit) as SessionThread[];
      return c.json({ data, next_page: offset + limit < threads.length ? encodeThreadCursor(offset + limit) : null }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/sessions/{session_id}/threads/{thread_id}', tags, request: { params: ThreadParam }, responses: { 200: json(SessionThread, 'The thread') } }),
    async (c) => {
      const { session_id, thread_id } = c.req.valid('param');
      await existing(session_id);
      return c.json((await longhaul.threads.retrieve(session_id, thread_id)) as SessionThread, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sessions/{session_id}/threads/{thread_id}/archive',
      tags,
      request: { params: ThreadParam },
      responses: { 200: json(SessionThread, 'The archived thread: it has stopped, and takes no more work') },
    }),
    async (c) => {
      const { session_id, thread_id } = c.req.valid('param');
      await existing(session_id);
      return c.json((await longhaul.threads.archive(session_id, thread_id)) as SessionThread, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/sessions/{session_id}/threads/{thread_id}/events',
      tags,
      request: { params: ThreadParam, query: PageQuery },
      responses: { 200: json(pageCursorOf(SessionEventObject), "Events of the thread's own log, oldest first") },
    }),
    async (c) => {
      const { session_id, thread_id } = c.req.valid('param');
      await existing(session_id);
      const { logId } = await longhaul.threads.logOf(session_id, thread_id);
      return c.json(await listEventsPage(store, logId, c.req.valid('query')), 200);
    },
  );

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/v1/sessions/{session_id}/threads/{thread_id}/stream',
    tags,
    description: "Server-sent events of the thread's own log, as `/v1/sessions/{session_id}/events/stream` sends the session's. Closes when the thread terminates.",
    request: { params: ThreadParam, query: StreamQuery },
    responses: { 200: { description: 'The event stream', content: { 'text/event-stream': { schema: SessionEventObject } } } },
  });
  app.get('/v1/sessions/:session_id/threads/:thread_id/stream', async (c) => {
    const sessionId = c.req.param('session_id');
    await existing(sessionId);
    const { logId, primary } = await longhaul.threads.logOf(sessionId, c.req.param('thread_id'));
    return streamSessionEvents(c, {
      store,
      sessionId: logId,
      keepaliveMs: deps.streamKeepaliveMs,
      ...streamOptionsOf(c),
      ...(primary ? {} : { endType: 'session.thread_status_terminated' }),
    });
  });
}

// Thread-list cursors: the offset of the next page (a session has few threads).
function encodeThreadCursor(offset: number): string {
  return `thpage_${Buffer.from(JSON.stringify([offset])).toString('base64url')}`;
}

function threadCursorOf(page: string | undefined): number {
  if (page === undefined || page === '') return 0;
  try {
    if (!page.startsWith('thpage_')) throw new Error('not a thread cursor');
    const [offset] = JSON.parse(Buffer.from(page.slice(7), 'base64url').toString('utf8')) as unknown[];
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new Error('bad offset');
    return offset as number;
  } catch {
    throw new BadRequestError('page: not a page cursor this server returned');
  }
}
