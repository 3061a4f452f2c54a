import { createRoute } from '@hono/zod-openapi';
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import type { FileMount } from '../../../workflows/contract.ts';
import { NotFoundError } from '../../errors.ts';
import { PageQuery, pageCursorOf } from '../../schemas/api-common.ts';
import { DeletedSessionResource, FileResource, FileResourceParams, SessionResource, resolveMountPath } from '../../schemas/api-file.ts';
import type { SessionMemoryStore } from '../../store/session-memory-store.ts';
import type { FileStore } from '../../store/file-store.ts';
import { newId } from '../../store/ids.ts';
import { BadRequestError, PrerequisiteError } from '../api-errors.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { apiSessionOf } from '../session-object.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { json, jsonBody } from '../openapi-common.ts';

/**
 * What file resources need of the API: the files (metadata and bytes in the
 * shared store). The copy into the sandbox is a worker's job, so the API needs no
 * sandbox driver; without `files` file resources are refused.
 */
export type SessionFileDeps = {
  files?: FileStore | undefined;
};

/** File resources resolved against the Files API, ready to record and hand to the session's workflow. */
export type PreparedFileResources = { resources: FileResource[]; mounts: FileMount[] };

/**
 * Checks every file exists (404 naming the field and the id) and fixes each
 * resource's id and mount path. Nothing is written.
 */
export async function prepareFileResources(
  { files }: SessionFileDeps,
  params: readonly FileResourceParams[],
  { field }: { field: string },
): Promise<PreparedFileResources> {
  if (params.length === 0) return { resources: [], mounts: [] };
  if (files === undefined) throw new BadRequestError(`${field}: this server keeps no files, so it cannot mount them`);
  const now = new Date().toISOString();
  const prepared: PreparedFileResources = { resources: [], mounts: [] };
  for (const [index, param] of params.entries()) {
    const where = params.length === 1 && field === 'body' ? 'file_id' : `${field}.${index}.file_id`;
    let file;
    try {
      file = await files.retrieve(param.file_id);
    } catch (error) {
      if (error instanceof NotFoundError) throw new PrerequisiteError('not_found_error', `${where}: file ${param.file_id} not found`, 'file_not_found_error');
      throw error;
    }
    if (file.expires_at !== null && Date.parse(file.expires_at) <= Date.now()) {
      throw new PrerequisiteError('not_found_error', `${where}: file ${file.id} expired at ${file.expires_at}`, 'file_not_found_error');
    }
    const mountPath = resolveMountPath(param.mount_path, file.id);
    if (mountPath === undefined) throw new BadRequestError(`${where.replace(/file_id$/, 'mount_path')}: must lie under /workspace or /mnt/session`);
    if (prepared.mounts.some((m) => m.mountPath === mountPath)) throw new BadRequestError(`${where.replace(/file_id$/, 'mount_path')}: ${mountPath} is used by another resource`);
    prepared.resources.push({ type: 'file', id: newId('sesrsc'), file_id: file.id, mount_path: mountPath, created_at: now, updated_at: now });
    prepared.mounts.push({ fileId: file.id, mountPath, sizeBytes: file.size_bytes });
  }
  return prepared;
}

const SessionParam = z.object({ session_id: z.string().min(1) });
const ResourceParam = z.object({ session_id: z.string().min(1), resource_id: z.string().min(1) });
const tags = ['sessions'];

/** `client.beta.sessions.resources` for file resources: add, list, retrieve, delete. */
export function registerSessionResourceRoutes(app: ApiApp, deps: Pick<ApiDeps, 'longhaul'> & { files: FileStore; sessionMemory?: SessionMemoryStore | undefined }): void {
  const { files, longhaul } = deps;

  /** The session, which must exist and not be archived to change. */
  const liveSession = async (id: string) => {
    const session = apiSessionOf(await longhaul.sessions.record(id));
    if (session.archived_at !== null) throw new BadRequestError(`session ${id} is archived`);
    return session;
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sessions/{session_id}/resources',
      tags,
      request: { params: SessionParam, body: jsonBody(FileResourceParams) },
      description: 'Adds a file resource. A worker copies the file into the sandbox before the session next calls the model (at once if it is idle).',
      responses: { 200: json(FileResource, 'The resource') },
    }),
    async (c) => {
      const sessionId = c.req.valid('param').session_id;
      await liveSession(sessionId);
      const prepared = await prepareFileResources(deps, [c.req.valid('json')], { field: 'body' });
      const existing = await files.listResources(sessionId, { limit: 1000 });
      const mountPath = prepared.resources[0]?.mount_path;
      if (existing.data.some((r) => r.mount_path === mountPath)) throw new BadRequestError(`mount_path: ${mountPath} is used by another resource of session ${sessionId}`);
      const resource = prepared.resources[0]!;
      await files.addResource(sessionId, resource);
      try {
        await longhaul.sessions.mountFiles(sessionId, prepared.mounts);
      } catch (error) {
        await files.deleteResource(sessionId, resource.id);
        if (error instanceof WorkflowNotFoundError) throw new BadRequestError(`session ${sessionId} has ended: it takes no more files`);
        throw error;
      }
      return c.json(resource, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/sessions/{session_id}/resources',
      tags,
      request: { params: SessionParam, query: PageQuery },
      responses: { 200: json(pageCursorOf(SessionResource), 'Resources: files oldest first, then memory stores') },
    }),
    async (c) => {
      const sessionId = c.req.valid('param').session_id;
      apiSessionOf(await longhaul.sessions.record(sessionId));
      const query = c.req.valid('query');
      const page = await files.listResources(sessionId, { limit: clampLimit(query.limit, { max: 1000 }), cursor: cursorOf(query.page) });
      // Memory stores (fixed at creation, at most a few) follow the files, on the last page.
      const memory = page.next_page === null ? ((await deps.sessionMemory?.resources(sessionId)) ?? []) : [];
      return c.json({ data: [...page.data, ...memory], next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/sessions/{session_id}/resources/{resource_id}', tags, request: { params: ResourceParam }, responses: { 200: json(FileResource, 'The resource') } }),
    async (c) => {
      const { session_id, resource_id } = c.req.valid('param');
      return c.json(await files.retrieveResource(session_id, resource_id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/sessions/{session_id}/resources/{resource_id}',
      tags,
      description: 'Forgets the resource. The copy already placed in the sandbox stays in /workspace.',
      request: { params: ResourceParam },
      responses: { 200: json(DeletedSessionResource, 'Deleted') },
    }),
    async (c) => {
      const { session_id, resource_id } = c.req.valid('param');
      await files.deleteResource(session_id, resource_id);
      return c.json({ id: resource_id, type: 'session_resource_deleted' as const }, 200);
    },
  );
}
