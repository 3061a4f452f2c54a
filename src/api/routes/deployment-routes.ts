import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { createdAtRange, pageCursorOf } from '../../schemas/api-common.ts';
import {
  Deployment,
  DeploymentCreateParams,
  DeploymentListQuery,
  DeploymentRun,
  DeploymentRunListQuery,
  DeploymentUpdateParams,
} from '../../schemas/api-deployment.ts';
import type { DeploymentService } from '../../deployments/deployment-service.ts';
import type { ApiApp } from '../api-types.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { json, jsonBody } from '../openapi-common.ts';

const DeploymentParam = z.object({ deployment_id: z.string().min(1) });
const RunParam = z.object({ deployment_run_id: z.string().min(1) });
const tags = ['deployments'];

/** `client.beta.deployments` and `client.beta.deploymentRuns`. */
export function registerDeploymentRoutes(app: ApiApp, { deployments }: { deployments: DeploymentService }): void {
  app.openapi(
    createRoute({ method: 'post', path: '/v1/deployments', tags, request: { body: jsonBody(DeploymentCreateParams) }, responses: { 200: json(Deployment, 'The new deployment') } }),
    async (c) => c.json(await deployments.create(c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/deployments/{deployment_id}', tags, request: { params: DeploymentParam }, responses: { 200: json(Deployment, 'The deployment') } }),
    async (c) => c.json(await deployments.retrieve(c.req.valid('param').deployment_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/deployments/{deployment_id}',
      tags,
      request: { params: DeploymentParam, body: jsonBody(DeploymentUpdateParams) },
      responses: { 200: json(Deployment, 'The updated deployment') },
    }),
    async (c) => c.json(await deployments.update(c.req.valid('param').deployment_id, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/deployments',
      tags,
      request: { query: DeploymentListQuery },
      responses: { 200: json(pageCursorOf(Deployment), 'Deployments, newest first') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await deployments.list({
        limit: clampLimit(query.limit),
        cursor: cursorOf(query.page),
        agentId: query.agent_id,
        status: query.status,
        includeArchived: query.include_archived,
        createdAt: createdAtRange(query),
      });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  for (const [action, verb] of [
    ['archive', 'archived'],
    ['pause', 'paused'],
    ['unpause', 'unpaused'],
  ] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/v1/deployments/{deployment_id}/${action}`,
        tags,
        request: { params: DeploymentParam },
        responses: { 200: json(Deployment, `The ${verb} deployment`) },
      }),
      async (c) => c.json(await deployments[action](c.req.valid('param').deployment_id), 200),
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/deployments/{deployment_id}/run',
      tags,
      request: { params: DeploymentParam },
      responses: { 200: json(DeploymentRun, 'The run, with its session or the error that kept it from starting') },
    }),
    async (c) => c.json(await deployments.run(c.req.valid('param').deployment_id), 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/deployment_runs/{deployment_run_id}', tags, request: { params: RunParam }, responses: { 200: json(DeploymentRun, 'The run') } }),
    async (c) => c.json(await deployments.retrieveRun(c.req.valid('param').deployment_run_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/deployment_runs',
      tags,
      request: { query: DeploymentRunListQuery },
      responses: { 200: json(pageCursorOf(DeploymentRun), 'Runs, newest first') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await deployments.listRuns({
        limit: clampLimit(query.limit),
        cursor: cursorOf(query.page),
        deploymentId: query.deployment_id,
        triggerType: query.trigger_type,
        hasError: query.has_error,
        createdAt: createdAtRange(query),
      });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );
}
