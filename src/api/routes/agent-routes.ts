import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { Agent, AgentCreateParams, AgentUpdateParams, agentSpecFromCreate, agentSpecProblem, mergeMultiagent } from '../../schemas/api-agent.ts';
import { newId } from '../../store/ids.ts';
import { BadRequestError } from '../api-errors.ts';
import { resolveRoster } from '../agent-roster.ts';
import { resolveAgentSkills, type SkillLookup } from '../skill-pins.ts';
import { INT32_MAX, CreatedAtQuery, PageQuery, QueryBoolean, pageCursorOf } from '../../schemas/api-common.ts';
import type { ApiApp, ApiDeps } from '../api-types.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { json, jsonBody } from '../openapi-common.ts';

const AgentParam = z.object({ agent_id: z.string().min(1) });
const tags = ['agents'];

/** `client.beta.agents` and `client.beta.agents.versions`. */
export function registerAgentRoutes(app: ApiApp, { agents, skills }: Pick<ApiDeps, 'agents'> & { skills?: SkillLookup | undefined }): void {
  app.openapi(
    createRoute({ method: 'post', path: '/v1/agents', tags, request: { body: jsonBody(AgentCreateParams) }, responses: { 200: json(Agent, 'The new agent, version 1') } }),
    async (c) => {
      const params = c.req.valid('json');
      // The id comes first: a roster's `self` entry names it.
      const id = newId('agent');
      const multiagent = await resolveRoster(params.multiagent, { agents, selfId: id });
      const spec = agentSpecFromCreate(params, multiagent === undefined ? null : mergeMultiagent(null, multiagent), await resolveAgentSkills(params.skills ?? [], { skills }));
      const problem = agentSpecProblem(spec);
      if (problem) throw new BadRequestError(problem);
      return c.json(await agents.create(spec, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/agents/{agent_id}',
      tags,
      request: { params: AgentParam, query: z.object({ version: z.coerce.number().int().min(1).max(INT32_MAX).optional() }) },
      responses: { 200: json(Agent, 'The agent (latest version unless `version` is given)') },
    }),
    async (c) => c.json(await agents.retrieve(c.req.valid('param').agent_id, c.req.valid('query').version), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/agents/{agent_id}',
      tags,
      request: { params: AgentParam, body: jsonBody(AgentUpdateParams) },
      responses: { 200: json(Agent, 'The agent after the update (a new version if anything changed)') },
    }),
    async (c) => {
      const id = c.req.valid('param').agent_id;
      const params = c.req.valid('json');
      return c.json(await agents.update(id, { ...params, multiagent: await resolveRoster(params.multiagent, { agents, selfId: id }), skills: await resolveAgentSkills(params.skills, { skills }) }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/agents',
      tags,
      request: {
        query: PageQuery.extend({ include_archived: QueryBoolean.optional(), 'created_at[gte]': CreatedAtQuery['created_at[gte]'], 'created_at[lte]': CreatedAtQuery['created_at[lte]'] }),
      },
      responses: { 200: json(pageCursorOf(Agent), 'Agents, newest first') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await agents.list({
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
    createRoute({ method: 'post', path: '/v1/agents/{agent_id}/archive', tags, request: { params: AgentParam }, responses: { 200: json(Agent, 'The archived agent') } }),
    async (c) => c.json(await agents.archive(c.req.valid('param').agent_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/agents/{agent_id}/versions',
      tags,
      request: { params: AgentParam, query: PageQuery },
      responses: { 200: json(pageCursorOf(Agent), 'Every version of the agent, newest first') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await agents.listVersions(c.req.valid('param').agent_id, { limit: clampLimit(query.limit), cursor: cursorOf(query.page) });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );
}
