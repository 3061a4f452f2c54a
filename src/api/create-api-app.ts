import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { Longhaul } from '../client/longhaul.ts';
import type { DeploymentService } from '../deployments/deployment-service.ts';
import type { WebhookPublisher } from '../webhooks/webhook-publisher.ts';
import { newId } from '../store/ids.ts';
import type { AgentStore } from '../store/agent-store.ts';
import type { EnvironmentStore } from '../store/environment-store.ts';
import type { FileStore } from '../store/file-store.ts';
import type { SessionStore } from '../store/session-store.ts';
import type { VaultStore } from '../store/vault-store.ts';
import { allowedMethods } from './allowed-methods.ts';
import { apiKeyAuth } from './api-key-auth.ts';
import { workerCredentials, workerScope } from './worker-credentials.ts';
import { BadRequestError, errorResponseOf, HttpApiError } from './api-errors.ts';
import type { ApiApp, ApiEnv } from './api-types.ts';
import { formatZodError } from './format-zod-error.ts';
import { declareCommonResponses } from './openapi-common.ts';
import { declareLinks } from './openapi-links.ts';
import { storableText } from './storable-text.ts';
import { registerAgentRoutes } from './routes/agent-routes.ts';
import { registerDeploymentRoutes } from './routes/deployment-routes.ts';
import { registerWebhookRoutes } from './routes/webhook-routes.ts';
import { registerMemoryRoutes } from './routes/memory-routes.ts';
import type { SessionMemoryStore } from '../store/session-memory-store.ts';
import type { DreamService } from '../dreams/dream-service.ts';
import { registerDreamRoutes } from './routes/dream-routes.ts';
import type { MemoryStores } from '../store/memory-store.ts';
import { resourceWebhooks } from './resource-webhooks.ts';
import { registerEnvironmentRoutes } from './routes/environment-routes.ts';
import { registerWorkRoutes } from './routes/work-routes.ts';
import { registerEventRoutes } from './routes/event-routes.ts';
import { registerThreadRoutes } from './routes/thread-routes.ts';
import { registerFileRoutes } from './routes/file-routes.ts';
import { registerSessionResourceRoutes } from './routes/session-resource-routes.ts';
import { registerSessionRoutes } from './routes/session-routes.ts';
import { registerVaultRoutes } from './routes/vault-routes.ts';
import { registerSkillRoutes } from './routes/skill-routes.ts';
import type { SkillStore } from '../store/skill-store.ts';
import type { SkillUploadLimits } from '../schemas/api-skill.ts';
import { traceRequests } from './trace-requests.ts';
import { registerConsoleRoutes, type ConsoleOptions } from './console-routes.ts';

export const DEFAULT_MAX_JSON_BODY_BYTES = 32 * 1024 * 1024;

/** The uploads, whose routes set body limits of their own: files and skills (and skill versions). */
const UPLOAD_PATH = /^\/v1\/(?:files|skills|skills\/[^/]+\/versions)$/;

export type CreateApiAppOptions = {
  longhaul: Longhaul;
  /** The event log the session workflows write. */
  store: SessionStore;
  agents: AgentStore;
  environments: EnvironmentStore;
  /**
   * Uploaded files (metadata and bytes, in the shared store) and session file
   * resources; serves `/v1/files`. Workers copy the files into sandboxes.
   */
  files?: FileStore | undefined;
  /** Largest upload, in bytes. Default 500 MB. */
  maxFileBytes?: number | undefined;
  /**
   * Largest JSON request body, in bytes; past it the answer is 413 `request_too_large`.
   * Default 32 MiB, the Messages API's own request limit: large user content is kept in
   * the store and reaches the session by reference, so it never weighs on Temporal.
   */
  maxJsonBodyBytes?: number | undefined;
  /** Skills and their versions; serves `/v1/skills`, and agents may name skills. Workers mount them into sandboxes. */
  skills?: SkillStore | undefined;
  /** Limits of a skill upload. Default `SKILL_UPLOAD_LIMITS`. */
  skillUploadLimits?: SkillUploadLimits | undefined;
  /** Vaults and credentials; serves `/v1/vaults` (answering 503 when the store has no secret key). */
  vaults?: VaultStore | undefined;
  /** Memory stores, their memories and versions; serves `/v1/memory_stores`. */
  memories?: MemoryStores | undefined;
  /** Which memory stores sessions mount (and their sync state); with `memories`, sessions take `memory_store` resources. */
  sessionMemory?: SessionMemoryStore | undefined;
  /** Dreams; serves `/v1/dreams`. */
  dreamService?: DreamService | undefined;
  /** Deployments and their runs; serves `/v1/deployments` and `/v1/deployment_runs`. */
  deploymentService?: DeploymentService | undefined;
  /**
   * Outbound webhooks: serves `/v1/webhook_endpoints` (503 without a secret key) and
   * publishes the session events the API makes (created, updated, archived, deleted).
   */
  webhookPublisher?: WebhookPublisher | undefined;
  /** Keys a client may present (`Authorization: Bearer` or `x-api-key`); kept only as sha256 digests. */
  apiKeys: Iterable<string>;
  /** How often an idle event stream gets a `: keepalive` comment. Default 15 s. */
  streamKeepaliveMs?: number;
  /** Serve the web console under `/console` (its data behind the same keys). Default: not served. */
  console?: ConsoleOptions | undefined;
  /** Where 500s are reported (their details never reach the client). Default `console.error`. */
  onInternalError?: (error: unknown, request: { method: string; path: string; requestId: string }) => void;
};

/**
 * The Managed Agents HTTP API as a Hono app: agents, environments, sessions,
 * events (with SSE), `/openapi.json`. Every error leaves through one `onError`
 * as the Anthropic error envelope.
 *
 * @example
 * const app = createApiApp({ longhaul, store, ...(await openApiStores(driver)), apiKeys: [key] });
 * const server = await serveApi({ app, port: 4080 });
 * const client = new Anthropic({ baseURL: server.url, apiKey: key });
 */
export function createApiApp({
  longhaul,
  store,
  agents,
  environments,
  apiKeys,
  files,
  maxFileBytes,
  maxJsonBodyBytes = DEFAULT_MAX_JSON_BODY_BYTES,
  skills,
  skillUploadLimits,
  vaults,
  memories,
  sessionMemory,
  deploymentService,
  dreamService,
  webhookPublisher,
  streamKeepaliveMs = 15_000,
  console: consoleOptions,
  onInternalError = (error, { method, path, requestId }) => console.error(`longhaul api: ${method} ${path} (${requestId}) failed:`, error),
}: CreateApiAppOptions): ApiApp {
  const app: ApiApp = new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      // The validator hands the hook the raw input too; it tells a missing field from a wrong one.
      if (!result.success) throw new BadRequestError(formatZodError(result.error, (result as { data?: unknown }).data));
    },
  });

  // First, so the request's span is the active context of everything after it (workflow starts and signals included).
  app.use('*', traceRequests());
  app.use('*', async (c, next) => {
    c.set('requestId', newId('req'));
    await next();
    c.header('request-id', c.get('requestId'));
  });
  app.use('/v1/*', apiKeyAuth({ apiKeys, otherCredentials: workerCredentials(store) }));
  app.use('/v1/*', workerScope(store));
  // Stated and enforced before anything is read: a Content-Length over the limit is
  // answered at once; a chunked body is counted as it streams. Uploads have their own.
  const jsonBodyLimit = bodyLimit({
    maxSize: maxJsonBodyBytes,
    onError: () => {
      throw new HttpApiError('request_too_large', `request body: larger than the ${maxJsonBodyBytes} bytes this server accepts`);
    },
  });
  app.use('/v1/*', (c, next) => (c.req.method === 'POST' && UPLOAD_PATH.test(c.req.path) ? next() : jsonBodyLimit(c, next)));
  app.use('*', storableText());
  // A path served with other methods answers 405 with `Allow` (TRACE included), not 404.
  app.use(
    '*',
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, matched) => {
        const served = allowedMethods(app.routes, c.req.path);
        const methods = served.length > 0 && !served.includes(c.req.method) ? served : matched;
        c.header('Allow', methods.join(', '));
        throw new HttpApiError('invalid_request_error', `${c.req.method} is not served on ${c.req.path}; use ${methods.join(', ')}`, { status: 405 });
      },
    }),
  );

  if (webhookPublisher) app.use('/v1/*', resourceWebhooks(webhookPublisher));
  const deps = { longhaul, store, agents, environments, streamKeepaliveMs, files, vaults, memories, sessionMemory, skills, webhooks: webhookPublisher };
  registerAgentRoutes(app, deps);
  registerEnvironmentRoutes(app, deps);
  registerWorkRoutes(app, deps);
  registerSessionRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerThreadRoutes(app, deps);
  if (files) registerSessionResourceRoutes(app, { ...deps, files });
  if (files) registerFileRoutes(app, { files, maxFileBytes });
  if (skills) registerSkillRoutes(app, { skills, limits: skillUploadLimits });
  if (vaults) registerVaultRoutes(app, { vaults });
  if (memories) registerMemoryRoutes(app, { memories });
  if (deploymentService) registerDeploymentRoutes(app, { deployments: deploymentService });
  if (dreamService) registerDreamRoutes(app, { dreams: dreamService });
  if (webhookPublisher) registerWebhookRoutes(app, { webhooks: webhookPublisher.store });
  if (consoleOptions) registerConsoleRoutes(app, { ...consoleOptions, apiKeys });

  declareCommonResponses(app);
  declareLinks(app);
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Longhaul Managed Agents API', version: '2026-04-01', description: 'The Managed Agents API served by Longhaul; drive it with the official Anthropic SDKs.' },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });

  app.notFound((c) => renderError(c, new HttpApiError('not_found_error', `no route for ${c.req.method} ${c.req.path}`), onInternalError));
  app.onError((error, c) => renderError(c, error, onInternalError));
  return app;
}

/** The one place that writes the error envelope. */
function renderError(c: Context<ApiEnv>, error: unknown, onInternalError: NonNullable<CreateApiAppOptions['onInternalError']>): Response {
  const response = errorResponseOf(error);
  const requestId = c.get('requestId') ?? newId('req');
  if (response.status >= 500) onInternalError(error, { method: c.req.method, path: c.req.path, requestId });
  const headers: Record<string, string> = { 'request-id': requestId };
  if (response.shouldRetry !== undefined) headers['x-should-retry'] = String(response.shouldRetry);
  return c.json(
    {
      type: 'error',
      error: { ...response.fields, type: response.errorType, message: response.message, ...(response.details ? { details: response.details } : {}) },
      request_id: requestId,
    },
    response.status as 400,
    headers,
  );
}
