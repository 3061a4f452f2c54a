import { createRoute } from '@hono/zod-openapi';
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { NotFoundError } from '../../errors.ts';
import { agentDefinitionOf, agentSpecProblem, applyAgentUpdate, type Agent } from '../../schemas/api-agent.ts';
import { CreatedAtQuery, PageQuery, QueryBoolean, bidirectionalPageOf, createdAtRange } from '../../schemas/api-common.ts';
import { environmentDefinitionOf, type Environment } from '../../schemas/api-environment.ts';
import { SessionResourceParams, type FileResourceParams } from '../../schemas/api-file.ts';
import { DeletedSession, Session, SessionCreateParams, SessionStatus, SessionUpdateParams, type BudgetLimit, type SessionAgent } from '../../schemas/api-session.ts';
import { parseUsd } from '../../core/budget.ts';
import { zeroUsage } from '../../core/usage.ts';
import { ConflictError } from '../../store/conflict-error.ts';
import { newId } from '../../store/ids.ts';
import type { SessionRemoval } from '../../../workflows/contract.ts';
import type { SessionRecord } from '../../store/session-index-store.ts';
import { BadRequestError, HttpApiError } from '../api-errors.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { clampLimit, cursorOf, oneOrMany, queryArray } from '../list-query.ts';
import { ERROR_RESPONSES, json, jsonBody } from '../openapi-common.ts';
import { apiUsage, sessionObject, sessionStateOf, usageOf } from '../session-state.ts';
import { prepareFileResources, type SessionFileDeps } from './session-resource-routes.ts';

/** What sessions need of the vault store: existence and archival. */
export type VaultLookup = { retrieve(id: string): Promise<{ archived_at: string | null }> };

const SessionParam = z.object({ session_id: z.string().min(1) });
const tags = ['sessions'];
/** `sessions.create` with file resources; other resource kinds are refused by name. */
const SessionCreateWithResources = SessionCreateParams.extend({ resources: z.array(SessionResourceParams).max(100).optional() });
const ZERO_USAGE = { ...apiUsage(zeroUsage(), null), active_seconds: 0 };

/** `client.beta.sessions` (create, retrieve, update, list, archive, delete). */
export function registerSessionRoutes(app: ApiApp, deps: ApiDeps & SessionFileDeps & { vaults?: VaultLookup | undefined }): void {
  const { longhaul, store, agents, environments, sessions } = deps;

  const stateOf = (record: SessionRecord) => sessionStateOf(store, record.id, { turnRequestedAfterSeq: record.turn_requested_after_seq });
  const resourcesOf = async (id: string): Promise<Session['resources']> => (deps.files ? (await deps.files.listResources(id, { limit: 100 })).data : []);
  const present = async (record: SessionRecord): Promise<Session> => sessionObject(record, await stateOf(record), { resources: await resourcesOf(record.id) });
  const load = async (id: string): Promise<Session> => present(await sessions.retrieve(id));

  /** Ends the session's workflow (a workflow already gone is fine) and removes what `removal` names. */
  const terminate = async (id: string, removal: SessionRemoval = {}) => {
    await longhaul.sessions.terminate(id, removal).catch((error: unknown) => {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    });
  };

  app.openapi(
    createRoute({ method: 'post', path: '/v1/sessions', tags, request: { body: jsonBody(SessionCreateWithResources) }, responses: { 200: json(Session, 'The new session'), ...ERROR_RESPONSES } }),
    async (c) => {
      const params = c.req.valid('json');
      const agentRef = typeof params.agent === 'string' ? { id: params.agent, version: undefined } : params.agent;
      const stored = await agents.retrieve(agentRef.id, agentRef.version);
      if (stored.archived_at !== null) throw new BadRequestError(`agent: agent ${stored.id} is archived`);
      const agent = typeof params.agent !== 'string' && params.agent.type === 'agent_with_overrides' ? withOverrides(stored, params.agent) : stored;
      const environment = await environmentFor(params.environment_id);
      const fileParams = (params.resources ?? []).filter((r): r is FileResourceParams => r.type === 'file');
      const fileResources = await prepareFileResources(deps, fileParams, { field: 'resources' });
      const now = new Date().toISOString();
      const record: SessionRecord = {
        id: newId('sesn'),
        agent: sessionAgentOf(agent),
        environment_id: environment.id,
        title: params.title ?? null,
        metadata: params.metadata ?? {},
        vault_ids: await checkVaults(params.vault_ids ?? [], 'vault_ids'),
        budget: params.budget ?? null,
        created_at: now,
        updated_at: now,
        archived_at: null,
      };
      const initialEvents = params.initial_events ?? [];
      await sessions.create(record);
      try {
        for (const resource of fileResources.resources) await deps.files?.addResource(record.id, resource);
        // A worker copies the files into the sandbox before the first model call.
        await longhaul.sessions.create({
          id: record.id,
          agent: agentDefinitionOf(agent),
          environment: environmentDefinitionOf(environment),
          events: initialEvents,
          vaultIds: record.vault_ids ?? [],
          budget: record.budget ?? null,
          mounts: fileResources.mounts,
        });
      } catch (error) {
        if (fileResources.resources.length > 0) await deps.files?.removeResources(record.id);
        await sessions.remove(record.id);
        throw error;
      }
      return c.json(sessionObject(record, { status: initialEvents.length > 0 ? 'running' : 'idle', usage: ZERO_USAGE }, { resources: fileResources.resources }), 200);
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
      if (params.vault_ids !== undefined) await checkVaults(params.vault_ids, 'vault_ids');
      const record = await sessions.update(id, params);
      if ((params.budget !== undefined || params.vault_ids !== undefined) && record.archived_at === null) {
        await longhaul.sessions.updateSettings(id, {
          ...(params.budget !== undefined ? { budget: params.budget } : {}),
          ...(params.vault_ids !== undefined ? { vaultIds: params.vault_ids } : {}),
        });
        if (params.budget !== undefined && (await stoppedAtBudget(id, params.budget))) await sessions.markTurnRequested(id, await store.lastSeq(id));
      }
      return c.json(await present(await sessions.retrieve(id)), 200);
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
      const page = await sessions.list({
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
      const current = await load(id);
      if (current.archived_at === null) {
        if (current.status === 'running' || current.status === 'rescheduling') throw new ConflictError(`session ${id} is ${current.status}: interrupt it or wait for it to go idle, then archive it`);
        // An archived session never runs again: its events stay readable, its sandbox and workspace go.
        await terminate(id, { workspace: true });
      }
      return c.json(await present(await sessions.archive(id)), 200);
    },
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/v1/sessions/{session_id}', tags, request: { params: SessionParam }, responses: { 200: json(DeletedSession, 'Deleted'), ...ERROR_RESPONSES } }),
    async (c) => {
      const id = c.req.valid('param').session_id;
      const current = await load(id);
      if (current.status === 'running' || current.status === 'rescheduling') throw new ConflictError(`session ${id} is ${current.status}: interrupt it or wait for it to go idle, then delete it`);
      // Its container, volumes, host folder and log go with the workflow's end (any worker,
      // retried until done); the API's own rows go now. Uploaded files stay: they are the caller's.
      await terminate(id, { workspace: true, records: true });
      await sessions.remove(id);
      await deps.files?.removeResources(id);
      return c.json({ id, type: 'session_deleted' as const }, 200);
    },
  );

  /** Whether the session idles at its budget and `budget` lets it go on (so it is about to resume). */
  async function stoppedAtBudget(id: string, budget: BudgetLimit | null): Promise<boolean> {
    const [idle] = await store.listEvents(id, { order: 'desc', limit: 1, types: ['session.status_idle', 'session.status_running'] });
    if (idle?.event.type !== 'session.status_idle' || idle.event.stop_reason.type !== 'budget_reached') return false;
    if (budget === null) return true;
    const spent = (await usageOf(store, id)).list_cost?.amount ?? '0';
    return parseUsd(budget.max_list_cost.amount) > parseUsd(spent);
  }

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

function sessionAgentOf({ metadata: _metadata, created_at: _c, updated_at: _u, archived_at: _a, ...agent }: Agent): SessionAgent {
  return agent;
}
