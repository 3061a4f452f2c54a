import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { NotFoundError } from '../../errors.ts';
import { agentDefinitionOf, agentSpecProblem, applyAgentUpdate, type Agent } from '../../schemas/api-agent.ts';
import { CreatedAtQuery, PageQuery, QueryBoolean, bidirectionalPageOf, createdAtRange } from '../../schemas/api-common.ts';
import { environmentDefinitionOf, type Environment } from '../../schemas/api-environment.ts';
import { SessionResourceParams, type FileResourceParams } from '../../schemas/api-file.ts';
import { DeletedSession, Session, SessionCreateParams, SessionStatus, SessionUpdateParams } from '../../schemas/api-session.ts';
import type { UserEventParams } from '../../schemas/events.ts';
import type { SessionView } from '../../client/longhaul.ts';
import { newId } from '../../store/ids.ts';
import { BadRequestError, HttpApiError } from '../api-errors.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { clampLimit, cursorOf, oneOrMany, queryArray } from '../list-query.ts';
import { ERROR_RESPONSES, json, jsonBody } from '../openapi-common.ts';
import { apiSessionOf, checkRubricFiles, sessionObject } from '../session-object.ts';
import { pinRoster, threadAgentOf } from '../agent-roster.ts';
import { prepareFileResources, type SessionFileDeps } from './session-resource-routes.ts';

/** What sessions need of the vault store: existence and archival. */
export type VaultLookup = { retrieve(id: string): Promise<{ archived_at: string | null }> };

const SessionParam = z.object({ session_id: z.string().min(1) });
const tags = ['sessions'];
/** `sessions.create` with file resources; other resource kinds are refused by name. */
const SessionCreateWithResources = SessionCreateParams.extend({ resources: z.array(SessionResourceParams).max(100).optional() });

/** `client.beta.sessions` (create, retrieve, update, list, archive, delete): the session service (`Longhaul`) does the work. */
export function registerSessionRoutes(app: ApiApp, deps: ApiDeps & SessionFileDeps & { vaults?: VaultLookup | undefined }): void {
  const { longhaul, agents, environments } = deps;

  const resourcesOf = async (id: string): Promise<Session['resources']> => (deps.files ? (await deps.files.listResources(id, { limit: 100 })).data : []);
  const present = async (view: SessionView): Promise<Session> => {
    const session = apiSessionOf(view);
    return sessionObject(session, session, { resources: await resourcesOf(session.id) });
  };
  const load = async (id: string): Promise<Session> => present(await longhaul.sessions.retrieve(id));

  app.openapi(
    createRoute({ method: 'post', path: '/v1/sessions', tags, request: { body: jsonBody(SessionCreateWithResources) }, responses: { 200: json(Session, 'The new session'), ...ERROR_RESPONSES } }),
    async (c) => {
      const params = c.req.valid('json');
      const agentRef = typeof params.agent === 'string' ? { id: params.agent, version: undefined } : params.agent;
      const stored = await agents.retrieve(agentRef.id, agentRef.version);
      if (stored.archived_at !== null) throw new BadRequestError(`agent: agent ${stored.id} is archived`);
      const agent = typeof params.agent !== 'string' && params.agent.type === 'agent_with_overrides' ? withOverrides(stored, params.agent) : stored;
      // A coordinator's whole roster is pinned now: later versions of its agents do not reach this session.
      const roster = await pinRoster(agent, agents);
      const environment = await environmentFor(params.environment_id);
      const fileParams = (params.resources ?? []).filter((r): r is FileResourceParams => r.type === 'file');
      const fileResources = await prepareFileResources(deps, fileParams, { field: 'resources' });
      await checkRubricFiles(deps.files, params.initial_events ?? [], 'initial_events');
      const id = newId('sesn');
      for (const resource of fileResources.resources) await deps.files?.addResource(id, resource);
      try {
        // A worker copies the files into the sandbox before the first model call.
        const session = await longhaul.sessions.create({
          id,
          agent: { ...agentDefinitionOf(agent), ...(roster.members.length > 0 ? { roster: roster.members } : {}) },
          environment: environmentDefinitionOf(environment),
          // The refused event types never pass validation: what remains is what sessions take.
          events: (params.initial_events ?? []) as UserEventParams[],
          vaultIds: await checkVaults(params.vault_ids ?? [], 'vault_ids'),
          budget: params.budget ?? null,
          mounts: fileResources.mounts,
          named: { agent: { ...threadAgentOf(agent), multiagent: roster.snapshot }, environmentId: environment.id },
          title: params.title ?? null,
          metadata: params.metadata ?? {},
        });
        return c.json(sessionObject(apiSessionOf(session), session, { resources: fileResources.resources }), 200);
      } catch (error) {
        if (fileResources.resources.length > 0) await deps.files?.removeResources(id);
        throw error;
      }
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/sessions/{session_id}', tags, request: { params: SessionParam }, responses: { 200: json(Session, 'The session'), ...ERROR_RESPONSES } }),
    async (c) => c.json(await load(c.req.valid('param').session_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sessions/{session_id}',
      tags,
      request: { params: SessionParam, body: jsonBody(SessionUpdateParams) },
      responses: { 200: json(Session, 'The updated session'), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      const params = c.req.valid('json');
      apiSessionOf(await longhaul.sessions.record(id));
      if (params.vault_ids !== undefined) await checkVaults(params.vault_ids, 'vault_ids');
      return c.json(await present(await longhaul.sessions.update(id, params)), 200);
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
          agent_version: z.coerce.number().int().optional(),
          ...CreatedAtQuery,
          statuses: oneOrMany(SessionStatus),
          'statuses[]': oneOrMany(SessionStatus),
        }),
      },
      responses: { 200: json(bidirectionalPageOf(Session), 'Sessions, newest first unless `order=asc`'), ...ERROR_RESPONSES },
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
    createRoute({ method: 'post', path: '/v1/sessions/{session_id}/archive', tags, request: { params: SessionParam }, responses: { 200: json(Session, 'The archived session'), ...ERROR_RESPONSES } }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      apiSessionOf(await longhaul.sessions.record(id));
      return c.json(await present(await longhaul.sessions.archive(id)), 200);
    },
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/v1/sessions/{session_id}', tags, request: { params: SessionParam }, responses: { 200: json(DeletedSession, 'Deleted'), ...ERROR_RESPONSES } }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      apiSessionOf(await longhaul.sessions.record(id));
      await longhaul.sessions.delete(id);
      // The session's rows go with its workflow's end; its file attachments now. Uploaded files stay: they are the caller's.
      await deps.files?.removeResources(id);
      return c.json({ id, type: 'session_deleted' as const }, 200);
    },
  );

  /** Each vault must exist and not be archived; 404 names the field. */
  async function checkVaults(ids: string[], field: string): Promise<string[]> {
    for (const [index, vaultId] of ids.entries()) {
      if (!deps.vaults) throw new BadRequestError(`${field}: this server keeps no vaults (it was started without a secret key)`);
      let vault;
      try {
        vault = await deps.vaults.retrieve(vaultId);
      } catch (error) {
        if (error instanceof NotFoundError) throw new HttpApiError('not_found_error', `${field}.${index}: vault ${vaultId} not found`);
        throw error;
      }
      if (vault.archived_at !== null) throw new BadRequestError(`${field}.${index}: vault ${vaultId} is archived`);
    }
    return ids;
  }

  async function environmentFor(id: string): Promise<Environment> {
    let environment: Environment;
    try {
      environment = await environments.retrieve(id);
    } catch (error) {
      if (error instanceof NotFoundError) {
        throw new HttpApiError('not_found_error', `environment_id: environment ${id} not found`, { details: { error_code: 'environment_not_found' } });
      }
      throw error;
    }
    if (environment.archived_at !== null) {
      throw new HttpApiError('invalid_request_error', `environment_id: environment ${id} is archived`, { details: { error_code: 'environment_archived' } });
    }
    return environment;
  }
}

/** The agent version with a session's overrides applied: the same id and version, other settings for this session. */
function withOverrides(agent: Agent, overrides: Extract<SessionCreateParams['agent'], { type: 'agent_with_overrides' }>): Agent {
  const { model, system, tools, mcp_servers } = overrides;
  const spec = applyAgentUpdate(agent, { model, system, tools, mcp_servers }, () => agent.metadata);
  const problem = agentSpecProblem(spec);
  if (problem) throw new BadRequestError(`agent.${problem}`);
  return { ...agent, ...spec };
}
