import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { pageCursorOf } from '../../schemas/api-common.ts';
import {
  Memory,
  MemoryCreateParams,
  MemoryListQuery,
  MemoryPrefix,
  MemoryStore,
  MemoryStoreCreateParams,
  MemoryStoreListQuery,
  MemoryStoreUpdateParams,
  MemoryUpdateParams,
  MemoryVersion,
  MemoryVersionListQuery,
  MemoryView,
  type Actor,
} from '../../schemas/api-memory.ts';
import { MemoryPathConflictError, MemoryPreconditionError, type MemoryStores } from '../../store/memory-store.ts';
import { HttpApiError } from '../api-errors.ts';
import type { ApiApp } from '../api-types.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { json, jsonBody } from '../openapi-common.ts';

const StoreParam = z.object({ memory_store_id: z.string().min(1) });
const MemoryParam = z.object({ memory_store_id: z.string().min(1), memory_id: z.string().min(1) });
const VersionParam = z.object({ memory_store_id: z.string().min(1), memory_version_id: z.string().min(1) });
const ViewQuery = z.object({ view: MemoryView.optional() });
const tags = ['memory stores'];

/** `view=full` lists at most this many per page (the SDK's documented cap). */
const FULL_VIEW_LIMIT = 20;

/** `client.beta.memoryStores`, with `memories` and `memoryVersions`. */
export function registerMemoryRoutes(app: ApiApp, { memories }: { memories: MemoryStores }): void {
  const apiActor = (apiKeyId: string): Actor => ({ type: 'api_actor', api_key_id: apiKeyId });
  /** The store's errors, as the SDK types them. */
  const mapped = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof MemoryPreconditionError) throw new HttpApiError('memory_precondition_failed_error', `precondition: ${error.message}`);
      if (error instanceof MemoryPathConflictError) {
        throw new HttpApiError('memory_path_conflict_error', `path: ${error.message}`, { fields: { conflicting_memory_id: error.conflictingMemoryId, conflicting_path: error.conflictingPath } });
      }
      throw error;
    }
  };
  const shown = (memory: Memory, view: MemoryView): Memory => (view === 'full' ? memory : { ...memory, content: null });

  // ── Stores ────────────────────────────────────────────────────────────────

  app.openapi(
    createRoute({ method: 'post', path: '/v1/memory_stores', tags, request: { body: jsonBody(MemoryStoreCreateParams) }, responses: { 200: json(MemoryStore, 'The new memory store') } }),
    async (c) => c.json(await memories.create(c.req.valid('json')), 200),
  );
  app.openapi(
    createRoute({ method: 'get', path: '/v1/memory_stores/{memory_store_id}', tags, request: { params: StoreParam }, responses: { 200: json(MemoryStore, 'The memory store') } }),
    async (c) => c.json(await memories.retrieve(c.req.valid('param').memory_store_id), 200),
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memory_stores/{memory_store_id}',
      tags,
      request: { params: StoreParam, body: jsonBody(MemoryStoreUpdateParams) },
      responses: { 200: json(MemoryStore, 'The updated memory store') },
    }),
    async (c) => c.json(await memories.update(c.req.valid('param').memory_store_id, c.req.valid('json')), 200),
  );
  app.openapi(
    createRoute({ method: 'get', path: '/v1/memory_stores', tags, request: { query: MemoryStoreListQuery }, responses: { 200: json(pageCursorOf(MemoryStore), 'Memory stores, newest first') } }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await memories.list({
        limit: clampLimit(query.limit),
        cursor: cursorOf(query.page),
        includeArchived: query.include_archived,
        createdAtGte: query['created_at[gte]'],
        createdAtLte: query['created_at[lte]'],
      });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );
  app.openapi(
    createRoute({ method: 'post', path: '/v1/memory_stores/{memory_store_id}/archive', tags, request: { params: StoreParam }, responses: { 200: json(MemoryStore, 'The archived memory store: read-only') } }),
    async (c) => c.json(await memories.archive(c.req.valid('param').memory_store_id), 200),
  );
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/memory_stores/{memory_store_id}',
      tags,
      request: { params: StoreParam },
      responses: { 200: json(z.object({ id: z.string(), type: z.literal('memory_store_deleted') }), 'Deleted, with its memories and versions') },
    }),
    async (c) => {
      const id = c.req.valid('param').memory_store_id;
      await memories.delete(id);
      return c.json({ id, type: 'memory_store_deleted' as const }, 200);
    },
  );

  // ── Memories ──────────────────────────────────────────────────────────────

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memory_stores/{memory_store_id}/memories',
      tags,
      request: { params: StoreParam, query: ViewQuery, body: jsonBody(MemoryCreateParams) },
      responses: { 200: json(Memory, 'The new memory (view basic unless asked)') },
    }),
    async (c) => {
      const { path, content } = c.req.valid('json');
      const memory = await mapped(() => memories.createMemory(c.req.valid('param').memory_store_id, { path, content: content ?? '' }, apiActor(c.get('apiKeyId'))));
      return c.json(shown(memory, c.req.valid('query').view ?? 'basic'), 200);
    },
  );
  app.openapi(
    createRoute({ method: 'get', path: '/v1/memory_stores/{memory_store_id}/memories/{memory_id}', tags, request: { params: MemoryParam, query: ViewQuery }, responses: { 200: json(Memory, 'The memory (view full unless asked)') } }),
    async (c) => {
      const { memory_store_id, memory_id } = c.req.valid('param');
      return c.json(shown(await memories.retrieveMemory(memory_store_id, memory_id), c.req.valid('query').view ?? 'full'), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memory_stores/{memory_store_id}/memories/{memory_id}',
      tags,
      request: { params: MemoryParam, query: ViewQuery, body: jsonBody(MemoryUpdateParams) },
      responses: { 200: json(Memory, 'The updated memory (view basic unless asked)') },
    }),
    async (c) => {
      const { memory_store_id, memory_id } = c.req.valid('param');
      const memory = await mapped(() => memories.updateMemory(memory_store_id, memory_id, c.req.valid('json'), apiActor(c.get('apiKeyId'))));
      return c.json(shown(memory, c.req.valid('query').view ?? 'basic'), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/memory_stores/{memory_store_id}/memories/{memory_id}',
      tags,
      request: { params: MemoryParam, query: z.object({ expected_content_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256').optional() }) },
      responses: { 200: json(z.object({ id: z.string(), type: z.literal('memory_deleted') }), 'Deleted (a `deleted` version records it)') },
    }),
    async (c) => {
      const { memory_store_id, memory_id } = c.req.valid('param');
      const expectedSha256 = c.req.valid('query').expected_content_sha256;
      await mapped(() => memories.deleteMemory(memory_store_id, memory_id, { expectedSha256 }, apiActor(c.get('apiKeyId'))));
      return c.json({ id: memory_id, type: 'memory_deleted' as const }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/memory_stores/{memory_store_id}/memories',
      tags,
      request: { params: StoreParam, query: MemoryListQuery },
      responses: { 200: json(pageCursorOf(z.union([Memory, MemoryPrefix])), 'Memories by path; with depth, deeper folders as memory_prefix items') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const withContent = query.view === 'full';
      const page = await memories.listMemories(c.req.valid('param').memory_store_id, {
        limit: clampLimit(query.limit, withContent ? { max: FULL_VIEW_LIMIT } : {}),
        cursor: cursorOf(query.page),
        prefix: query.path_prefix,
        depth: query.depth,
        withContent,
      });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  // ── Versions ──────────────────────────────────────────────────────────────

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/memory_stores/{memory_store_id}/memory_versions',
      tags,
      request: { params: StoreParam, query: MemoryVersionListQuery },
      responses: { 200: json(pageCursorOf(MemoryVersion), 'Versions, newest first') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const withContent = query.view === 'full';
      // Nothing here writes as a service account: the filter is honoured by matching nothing.
      if (query.service_account_id !== undefined) {
        await memories.retrieve(c.req.valid('param').memory_store_id);
        return c.json({ data: [], next_page: null }, 200);
      }
      const page = await memories.listVersions(c.req.valid('param').memory_store_id, {
        limit: clampLimit(query.limit, withContent ? { max: FULL_VIEW_LIMIT } : {}),
        cursor: cursorOf(query.page),
        memoryId: query.memory_id,
        operation: query.operation,
        sessionId: query.session_id,
        apiKeyId: query.api_key_id,
        createdAtGte: query['created_at[gte]'],
        createdAtLte: query['created_at[lte]'],
        withContent,
      });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}',
      tags,
      request: { params: VersionParam, query: ViewQuery },
      responses: { 200: json(MemoryVersion, 'The version (view full unless asked)') },
    }),
    async (c) => {
      const { memory_store_id, memory_version_id } = c.req.valid('param');
      const version = await memories.retrieveVersion(memory_store_id, memory_version_id);
      return c.json(c.req.valid('query').view === 'basic' ? { ...version, content: null } : version, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}/redact',
      tags,
      request: { params: VersionParam },
      responses: { 200: json(MemoryVersion, 'The version, its content gone for good') },
    }),
    async (c) => {
      const { memory_store_id, memory_version_id } = c.req.valid('param');
      return c.json(await memories.redactVersion(memory_store_id, memory_version_id, apiActor(c.get('apiKeyId'))), 200);
    },
  );
}
