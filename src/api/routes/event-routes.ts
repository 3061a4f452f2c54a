import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { EventSendParams, SendEventsResponse, SessionEventObject, SessionEventType, type SESSION_EVENT_TYPES } from '../../schemas/api-events.ts';
import type { UserEventParams } from '../../schemas/events.ts';
import { CreatedAtQuery, PageQuery, createdAtRange, pageCursorOf } from '../../schemas/api-common.ts';
import { BadRequestError } from '../api-errors.ts';
import { formatZodError } from '../format-zod-error.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { clampLimit, oneOrMany, queryArray } from '../list-query.ts';
import { json, jsonBody } from '../openapi-common.ts';
import { apiSessionOf, checkRubricFiles } from '../session-object.ts';
import type { SessionFileDeps } from './session-resource-routes.ts';
import { streamSessionEvents } from '../stream-session-events.ts';
import type { Context } from 'hono';
import type { ListEventsOptions, SessionStore } from '../../store/session-store.ts';

const SessionParam = z.object({ session_id: z.string().min(1) });
const DeltaType = z.enum(['agent.message', 'agent.thinking']);
type DeltaType = z.infer<typeof DeltaType>;
/** Query of the event stream: `after_id`, and `event_deltas[]` to receive previews of those event types. */
export const StreamQuery = z.object({ after_id: z.string().optional(), event_deltas: oneOrMany(DeltaType), 'event_deltas[]': oneOrMany(DeltaType) });
const tags = ['events'];

/** `client.beta.sessions.events`: send, list, stream. */
export function registerEventRoutes(app: ApiApp, deps: ApiDeps & SessionFileDeps & { streamKeepaliveMs: number }): void {
  const { longhaul, store } = deps;
  const existing = async (id: string) => apiSessionOf(await longhaul.sessions.record(id));

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sessions/{session_id}/events',
      tags,
      request: { params: SessionParam, body: jsonBody(EventSendParams) },
      responses: { 200: json(SendEventsResponse, 'Accepted; the events appear in the log and stream as the session takes them') },
    }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      await existing(id);
      const events = c.req.valid('json').events;
      await checkRubricFiles(deps.files, events, 'events');
      // The refused types never pass validation, so what remains are the events sessions take.
      const sent = await longhaul.events.send(id, events as UserEventParams[]);
      // Absent optional fields are dropped by JSON; the cast only forgets that.
      return c.json({ data: sent } as z.infer<typeof SendEventsResponse>, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/sessions/{session_id}/events',
      tags,
      request: {
        params: SessionParam,
        query: PageQuery.extend({ order: z.enum(['asc', 'desc']).optional(), types: oneOrMany(SessionEventType), 'types[]': oneOrMany(SessionEventType), ...CreatedAtQuery }),
      },
      responses: { 200: json(pageCursorOf(SessionEventObject), 'Events of the session log, oldest first unless `order=desc`') },
    }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      await existing(id);
      const query = c.req.valid('query');
      return c.json(await listEventsPage(store, id, { ...query, types: queryArray<(typeof SESSION_EVENT_TYPES)[number]>(query, 'types'), processedAt: createdAtRange(query) }), 200);
    },
  );

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/v1/sessions/{session_id}/events/stream',
    tags,
    description:
      'Server-sent events: every message is `event: <type>` + `data: <event JSON>`. Live from the moment of connection; ' +
      '`Last-Event-ID` (or `?after_id=`) replays the log after that event first. Closes after `session.status_terminated`.',
    request: { params: SessionParam, query: StreamQuery },
    responses: { 200: { description: 'The event stream', content: { 'text/event-stream': { schema: SessionEventObject } } } },
  });
  app.get('/v1/sessions/:session_id/events/stream', async (c) => {
    const id = c.req.param('session_id');
    await existing(id);
    return streamSessionEvents(c, { store, sessionId: id, keepaliveMs: deps.streamKeepaliveMs, ...streamOptionsOf(c) });
  });
}

/** What a stream request asks for: where to resume (`Last-Event-ID` or `after_id`) and which previews. */
export function streamOptionsOf(c: Context): { resumeAfter: string | undefined; deltas: Set<DeltaType> } {
  const repeated = c.req.queries();
  const raw = { after_id: c.req.query('after_id'), event_deltas: repeated['event_deltas'], 'event_deltas[]': repeated['event_deltas[]'] };
  const query = StreamQuery.safeParse(raw);
  if (!query.success) throw new BadRequestError(formatZodError(query.error, raw));
  return { resumeAfter: c.req.header('last-event-id')?.trim() || query.data.after_id || undefined, deltas: new Set(queryArray<DeltaType>(query.data, 'event_deltas') ?? []) };
}

/** One page of a log's events (a session's or a thread's), oldest first unless `order=desc`. */
export async function listEventsPage(
  store: SessionStore,
  logId: string,
  query: { limit?: number | undefined; page?: string | undefined; order?: 'asc' | 'desc' | undefined; types?: string[] | undefined; processedAt?: ListEventsOptions['processedAt'] },
): Promise<{ data: z.infer<typeof SessionEventObject>[]; next_page: string | null }> {
  const order = query.order ?? 'asc';
  const limit = clampLimit(query.limit, { max: 1000 });
  const from = eventCursorOf(query.page, order);
  const rows = await store.listEvents(logId, {
    order,
    limit: limit + 1,
    types: query.types,
    processedAt: query.processedAt,
    ...(order === 'asc' ? { afterSeq: from ?? 0 } : from === undefined ? {} : { beforeSeq: from }),
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  // Stored events are the SDK's shapes; the document only describes their common fields.
  const data = page.map((row) => row.event as unknown as z.infer<typeof SessionEventObject>);
  return { data, next_page: rows.length > limit && last ? encodeEventCursor(order, last.seq) : null };
}

// Event-list cursors: the order they were made for and the last sequence number seen.
function encodeEventCursor(order: 'asc' | 'desc', seq: number): string {
  return `evpage_${Buffer.from(JSON.stringify([order, seq])).toString('base64url')}`;
}

function eventCursorOf(page: string | undefined, order: 'asc' | 'desc'): number | undefined {
  if (page === undefined || page === '') return undefined;
  try {
    if (!page.startsWith('evpage_')) throw new Error('not an event cursor');
    const [cursorOrder, seq] = JSON.parse(Buffer.from(page.slice(7), 'base64url').toString('utf8')) as unknown[];
    if (cursorOrder !== order || !Number.isSafeInteger(seq) || (seq as number) < 0) throw new Error('cursor of another order');
    return seq as number;
  } catch {
    throw new BadRequestError('page: not a page cursor this server returned for this order');
  }
}
