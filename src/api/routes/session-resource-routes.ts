import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { mountFiles, type MountFilesInput } from '../../../activities/mount-files.ts';
import type { SandboxDriver } from '../../../sandbox/types.ts';
import { NotFoundError } from '../../errors.ts';
import { PageQuery, pageCursorOf } from '../../schemas/api-common.ts';
import { environmentDefinitionOf } from '../../schemas/api-environment.ts';
import { DeletedSessionResource, FileResource, FileResourceParams, resolveMountPath } from '../../schemas/api-file.ts';
import type { EnvironmentDefinition } from '../../schemas/environment.ts';
import type { FileStore } from '../../store/file-store.ts';
import { newId } from '../../store/ids.ts';
import { BadRequestError, HttpApiError } from '../api-errors.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { ERROR_RESPONSES, json, jsonBody } from '../openapi-common.ts';

/** What mounting files into sessions needs; without `filesDir` and `sandboxes` file resources are refused. */
export type SessionFileDeps = {
  files?: FileStore | undefined;
  filesDir?: string | undefined;
  sandboxes?: SandboxDriver | undefined;
};

/** File resources resolved against the Files API, ready to record and mount. */
export type PreparedFileResources = { resources: FileResource[]; mounts: MountFilesInput['files'] };

/**
 * Checks every file exists (404 naming the field and the id) and fixes each
 * resource's id and mount path. Nothing is written.
 */
export async function prepareFileResources(
  { files, filesDir, sandboxes }: SessionFileDeps,
  params: readonly FileResourceParams[],
  { field }: { field: string },
): Promise<PreparedFileResources> {
  if (params.length === 0) return { resources: [], mounts: [] };
  if (files === undefined || filesDir === undefined || sandboxes === undefined) {
    throw new BadRequestError(`${field}: this server has no files folder or sandbox driver, so it cannot mount files`);
  }
  const now = new Date().toISOString();
  const prepared: PreparedFileResources = { resources: [], mounts: [] };
  for (const [index, param] of params.entries()) {
    const where = params.length === 1 && field === 'body' ? 'file_id' : `${field}.${index}.file_id`;
    let file;
    try {
      file = await files.retrieve(param.file_id);
    } catch (error) {
      if (error instanceof NotFoundError) throw new HttpApiError('not_found_error', `${where}: file ${param.file_id} not found`);
      throw error;
    }
    if (file.expires_at !== null && Date.parse(file.expires_at) <= Date.now()) {
      throw new HttpApiError('not_found_error', `${where}: file ${file.id} expired at ${file.expires_at}`, { details: { error_code: 'file_expired' } });
    }
    const mountPath = resolveMountPath(param.mount_path, file.id);
    if (mountPath === undefined) throw new BadRequestError(`${where.replace(/file_id$/, 'mount_path')}: must lie under /workspace or /mnt/session`);
    if (prepared.mounts.some((m) => m.mountPath === mountPath)) throw new BadRequestError(`${where.replace(/file_id$/, 'mount_path')}: ${mountPath} is used by another resource`);
    prepared.resources.push({ type: 'file', id: newId('sesrsc'), file_id: file.id, mount_path: mountPath, created_at: now, updated_at: now });
    prepared.mounts.push({ fileId: file.id, mountPath, sizeBytes: file.size_bytes });
  }
  return prepared;
}

/**
 * Records the resources and copies their files into the session's sandbox
 * (starting it if need be). When this resolves the files are in `/workspace`.
 *
 * `releaseAfter` removes the container again (the volume, with the files,
 * stays): for a session whose workflow has not started and will not run a turn
 * at once, nothing else would ever release a container started here.
 */
export async function mountFileResources(
  deps: SessionFileDeps,
  { sessionId, environment, prepared, releaseAfter = false }: { sessionId: string; environment: EnvironmentDefinition; prepared: PreparedFileResources; releaseAfter?: boolean },
): Promise<void> {
  if (prepared.resources.length === 0) return;
  const { files, filesDir, sandboxes } = deps;
  if (files === undefined || filesDir === undefined || sandboxes === undefined) throw new Error('mountFileResources needs files, filesDir and sandboxes');
  for (const resource of prepared.resources) await files.addResource(sessionId, resource);
  await mountFiles({ sandboxes, filesDir }, { sessionId, environment, files: prepared.mounts });
  if (releaseAfter) await sandboxes.destroy(sessionId, { removeVolume: false });
}

const SessionParam = z.object({ session_id: z.string().min(1) });
const ResourceParam = z.object({ session_id: z.string().min(1), resource_id: z.string().min(1) });
const tags = ['sessions'];

/** `client.beta.sessions.resources` for file resources: add, list, retrieve, delete. */
export function registerSessionResourceRoutes(app: ApiApp, deps: Pick<ApiDeps, 'sessions' | 'environments'> & SessionFileDeps & { files: FileStore }): void {
  const { files, sessions, environments } = deps;

  /** The session, which must exist and not be archived to change. */
  const liveSession = async (id: string) => {
    const session = await sessions.retrieve(id);
    if (session.archived_at !== null) throw new BadRequestError(`session ${id} is archived`);
    return session;
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sessions/{session_id}/resources',
      tags,
      request: { params: SessionParam, body: jsonBody(FileResourceParams) },
      responses: { 200: json(FileResource, 'The resource; its file is in the sandbox'), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const sessionId = c.req.valid('param').session_id;
      const session = await liveSession(sessionId);
      const prepared = await prepareFileResources(deps, [c.req.valid('json')], { field: 'body' });
      const existing = await files.listResources(sessionId, { limit: 1000 });
      const mountPath = prepared.resources[0]?.mount_path;
      if (existing.data.some((r) => r.mount_path === mountPath)) throw new BadRequestError(`mount_path: ${mountPath} is used by another resource of session ${sessionId}`);
      const environment = environmentDefinitionOf(await environments.retrieve(session.environment_id));
      await mountFileResources(deps, { sessionId, environment, prepared });
      return c.json(prepared.resources[0]!, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/sessions/{session_id}/resources',
      tags,
      request: { params: SessionParam, query: PageQuery },
      responses: { 200: json(pageCursorOf(FileResource), 'Resources, oldest first'), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const sessionId = c.req.valid('param').session_id;
      await sessions.retrieve(sessionId);
      const query = c.req.valid('query');
      const page = await files.listResources(sessionId, { limit: clampLimit(query.limit, { max: 1000 }), cursor: cursorOf(query.page) });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/sessions/{session_id}/resources/{resource_id}', tags, request: { params: ResourceParam }, responses: { 200: json(FileResource, 'The resource'), ...ERROR_RESPONSES } }),
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
      responses: { 200: json(DeletedSessionResource, 'Deleted'), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const { session_id, resource_id } = c.req.valid('param');
      await files.deleteResource(session_id, resource_id);
      return c.json({ id: resource_id, type: 'session_resource_deleted' as const }, 200);
    },
  );
}
