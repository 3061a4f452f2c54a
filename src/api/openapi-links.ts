import type { RouteConfig } from '@hono/zod-openapi';
import type { ApiApp } from './api-types.ts';

/** An operation as `METHOD /path`, the path as the document writes it. */
type Operation = `${'GET' | 'POST' | 'DELETE'} /v1/${string}`;

/**
 * A value of a link: a string `#/pointer` is that field of the object the source answered
 * with (`#/id`, `#/agent/id`); `$request.…` expressions pass through; anything else is a
 * constant. Objects and arrays are walked (a link's `requestBody`).
 */
type LinkValue = string | number | boolean | null | LinkValue[] | { [key: string]: LinkValue };

type Use = { to: Operation; parameters?: Record<string, string>; requestBody?: Record<string, LinkValue> };

/**
 * One kind of object: the operations whose 200 answer is it, those whose answer says it was
 * deleted, and what a client can do next with it; every one of those answers links to every
 * use, so a client's whole life of the object is a path through the links: create, use,
 * archive or delete, use again. A page of it (`listedBy`, its first item) links to `retrieve`
 * only, the way a client picks an object from a list before acting on it (which also keeps
 * a test's long-lived objects from being archived by the first list that shows them).
 */
type ResourceLinks = { returnedBy: Operation[]; listedBy?: Operation[]; deletedBy?: Operation[]; /** The first retrieves it. */ uses: Record<string, Use> };

const id = (name: string, pointer = '#/id') => ({ [name]: pointer });

/** Every resource of the API and how its operations follow one another (OpenAPI `links`, which Schemathesis's stateful tests walk). */
const RESOURCES: ResourceLinks[] = [
  {
    returnedBy: ['POST /v1/agents', 'GET /v1/agents/{agent_id}', 'POST /v1/agents/{agent_id}', 'POST /v1/agents/{agent_id}/archive'],
    listedBy: ['GET /v1/agents', 'GET /v1/agents/{agent_id}/versions'],
    uses: {
      RetrieveAgent: { to: 'GET /v1/agents/{agent_id}', parameters: id('agent_id') },
      RetrieveAgentVersion: { to: 'GET /v1/agents/{agent_id}', parameters: { agent_id: '#/id', version: '#/version' } },
      UpdateAgent: { to: 'POST /v1/agents/{agent_id}', parameters: id('agent_id'), requestBody: { version: '#/version' } },
      ArchiveAgent: { to: 'POST /v1/agents/{agent_id}/archive', parameters: id('agent_id') },
      ListAgentVersions: { to: 'GET /v1/agents/{agent_id}/versions', parameters: id('agent_id') },
      CreateSessionOfAgent: { to: 'POST /v1/sessions', requestBody: { agent: '#/id' } },
      ListSessionsOfAgent: { to: 'GET /v1/sessions', parameters: id('agent_id') },
      CreateDeploymentOfAgent: { to: 'POST /v1/deployments', requestBody: { agent: '#/id' } },
      ListDeploymentsOfAgent: { to: 'GET /v1/deployments', parameters: id('agent_id') },
    },
  },
  {
    returnedBy: ['POST /v1/environments', 'GET /v1/environments/{environment_id}', 'POST /v1/environments/{environment_id}', 'POST /v1/environments/{environment_id}/archive'],
    listedBy: ['GET /v1/environments'],
    deletedBy: ['DELETE /v1/environments/{environment_id}'],
    uses: {
      RetrieveEnvironment: { to: 'GET /v1/environments/{environment_id}', parameters: id('environment_id') },
      UpdateEnvironment: { to: 'POST /v1/environments/{environment_id}', parameters: id('environment_id') },
      ArchiveEnvironment: { to: 'POST /v1/environments/{environment_id}/archive', parameters: id('environment_id') },
      DeleteEnvironment: { to: 'DELETE /v1/environments/{environment_id}', parameters: id('environment_id') },
      CreateSessionInEnvironment: { to: 'POST /v1/sessions', requestBody: { environment_id: '#/id' } },
      CreateDeploymentInEnvironment: { to: 'POST /v1/deployments', requestBody: { environment_id: '#/id' } },
    },
  },
  {
    returnedBy: ['POST /v1/sessions', 'GET /v1/sessions/{session_id}', 'POST /v1/sessions/{session_id}', 'POST /v1/sessions/{session_id}/archive'],
    listedBy: ['GET /v1/sessions'],
    deletedBy: ['DELETE /v1/sessions/{session_id}'],
    uses: {
      RetrieveSession: { to: 'GET /v1/sessions/{session_id}', parameters: id('session_id') },
      UpdateSession: { to: 'POST /v1/sessions/{session_id}', parameters: id('session_id') },
      ArchiveSession: { to: 'POST /v1/sessions/{session_id}/archive', parameters: id('session_id') },
      DeleteSession: { to: 'DELETE /v1/sessions/{session_id}', parameters: id('session_id') },
      SendEvents: { to: 'POST /v1/sessions/{session_id}/events', parameters: id('session_id') },
      ListEvents: { to: 'GET /v1/sessions/{session_id}/events', parameters: id('session_id') },
      ListThreads: { to: 'GET /v1/sessions/{session_id}/threads', parameters: id('session_id') },
      AddResource: { to: 'POST /v1/sessions/{session_id}/resources', parameters: id('session_id') },
      ListResources: { to: 'GET /v1/sessions/{session_id}/resources', parameters: id('session_id') },
      CreateSessionLikeThis: { to: 'POST /v1/sessions', requestBody: { agent: '#/agent/id', environment_id: '#/environment_id' } },
    },
  },
  {
    returnedBy: ['GET /v1/sessions/{session_id}/threads/{thread_id}', 'POST /v1/sessions/{session_id}/threads/{thread_id}/archive'],
    listedBy: ['GET /v1/sessions/{session_id}/threads'],
    uses: {
      RetrieveThread: { to: 'GET /v1/sessions/{session_id}/threads/{thread_id}', parameters: { session_id: '#/session_id', thread_id: '#/id' } },
      ArchiveThread: { to: 'POST /v1/sessions/{session_id}/threads/{thread_id}/archive', parameters: { session_id: '#/session_id', thread_id: '#/id' } },
      ListThreadEvents: { to: 'GET /v1/sessions/{session_id}/threads/{thread_id}/events', parameters: { session_id: '#/session_id', thread_id: '#/id' } },
    },
  },
  {
    // A resource does not name its session: the request that returned it does.
    returnedBy: ['POST /v1/sessions/{session_id}/resources', 'GET /v1/sessions/{session_id}/resources/{resource_id}'],
    listedBy: ['GET /v1/sessions/{session_id}/resources'],
    deletedBy: ['DELETE /v1/sessions/{session_id}/resources/{resource_id}'],
    uses: {
      RetrieveResource: { to: 'GET /v1/sessions/{session_id}/resources/{resource_id}', parameters: { session_id: '$request.path.session_id', resource_id: '#/id' } },
      DeleteResource: { to: 'DELETE /v1/sessions/{session_id}/resources/{resource_id}', parameters: { session_id: '$request.path.session_id', resource_id: '#/id' } },
    },
  },
  {
    returnedBy: ['POST /v1/files', 'GET /v1/files/{file_id}'],
    listedBy: ['GET /v1/files'],
    deletedBy: ['DELETE /v1/files/{file_id}'],
    uses: {
      RetrieveFile: { to: 'GET /v1/files/{file_id}', parameters: id('file_id') },
      DownloadFile: { to: 'GET /v1/files/{file_id}/content', parameters: id('file_id') },
      DeleteFile: { to: 'DELETE /v1/files/{file_id}', parameters: id('file_id') },
      CreateSessionWithFile: { to: 'POST /v1/sessions', requestBody: { resources: [{ type: 'file', file_id: '#/id' }] } },
    },
  },
  {
    returnedBy: ['POST /v1/skills', 'GET /v1/skills/{skill_id}'],
    listedBy: ['GET /v1/skills'],
    deletedBy: ['DELETE /v1/skills/{skill_id}'],
    uses: {
      RetrieveSkill: { to: 'GET /v1/skills/{skill_id}', parameters: id('skill_id') },
      ListSkillVersions: { to: 'GET /v1/skills/{skill_id}/versions', parameters: id('skill_id') },
      CreateSkillVersion: { to: 'POST /v1/skills/{skill_id}/versions', parameters: id('skill_id') },
      RetrieveLatestSkillVersion: { to: 'GET /v1/skills/{skill_id}/versions/{version}', parameters: { skill_id: '#/id', version: '#/latest_version_id' } },
      DownloadLatestSkillVersion: { to: 'GET /v1/skills/{skill_id}/versions/{version}/content', parameters: { skill_id: '#/id', version: '#/latest_version_id' } },
      DeleteSkill: { to: 'DELETE /v1/skills/{skill_id}', parameters: id('skill_id') },
    },
  },
  {
    // A deleted version's answer names only itself: the skill comes from the request.
    returnedBy: ['POST /v1/skills/{skill_id}/versions', 'GET /v1/skills/{skill_id}/versions/{version}'],
    listedBy: ['GET /v1/skills/{skill_id}/versions'],
    deletedBy: ['DELETE /v1/skills/{skill_id}/versions/{version}'],
    uses: {
      RetrieveSkillVersion: { to: 'GET /v1/skills/{skill_id}/versions/{version}', parameters: { skill_id: '$request.path.skill_id', version: '#/id' } },
      DownloadSkillVersion: { to: 'GET /v1/skills/{skill_id}/versions/{version}/content', parameters: { skill_id: '$request.path.skill_id', version: '#/id' } },
      DeleteSkillVersion: { to: 'DELETE /v1/skills/{skill_id}/versions/{version}', parameters: { skill_id: '$request.path.skill_id', version: '#/id' } },
      RetrieveSkillOfVersion: { to: 'GET /v1/skills/{skill_id}', parameters: { skill_id: '$request.path.skill_id' } },
    },
  },
  {
    returnedBy: ['POST /v1/vaults', 'GET /v1/vaults/{vault_id}', 'POST /v1/vaults/{vault_id}', 'POST /v1/vaults/{vault_id}/archive'],
    listedBy: ['GET /v1/vaults'],
    deletedBy: ['DELETE /v1/vaults/{vault_id}'],
    uses: {
      RetrieveVault: { to: 'GET /v1/vaults/{vault_id}', parameters: id('vault_id') },
      UpdateVault: { to: 'POST /v1/vaults/{vault_id}', parameters: id('vault_id') },
      ArchiveVault: { to: 'POST /v1/vaults/{vault_id}/archive', parameters: id('vault_id') },
      DeleteVault: { to: 'DELETE /v1/vaults/{vault_id}', parameters: id('vault_id') },
      CreateCredential: { to: 'POST /v1/vaults/{vault_id}/credentials', parameters: id('vault_id') },
      ListCredentials: { to: 'GET /v1/vaults/{vault_id}/credentials', parameters: id('vault_id') },
      CreateSessionWithVault: { to: 'POST /v1/sessions', requestBody: { vault_ids: ['#/id'] } },
    },
  },
  {
    returnedBy: [
      'POST /v1/vaults/{vault_id}/credentials',
      'GET /v1/vaults/{vault_id}/credentials/{credential_id}',
      'POST /v1/vaults/{vault_id}/credentials/{credential_id}',
      'POST /v1/vaults/{vault_id}/credentials/{credential_id}/archive',
    ],
    listedBy: ['GET /v1/vaults/{vault_id}/credentials'],
    deletedBy: ['DELETE /v1/vaults/{vault_id}/credentials/{credential_id}'],
    uses: {
      RetrieveCredential: { to: 'GET /v1/vaults/{vault_id}/credentials/{credential_id}', parameters: { vault_id: '$request.path.vault_id', credential_id: '#/id' } },
      UpdateCredential: { to: 'POST /v1/vaults/{vault_id}/credentials/{credential_id}', parameters: { vault_id: '$request.path.vault_id', credential_id: '#/id' } },
      ArchiveCredential: { to: 'POST /v1/vaults/{vault_id}/credentials/{credential_id}/archive', parameters: { vault_id: '$request.path.vault_id', credential_id: '#/id' } },
      DeleteCredential: { to: 'DELETE /v1/vaults/{vault_id}/credentials/{credential_id}', parameters: { vault_id: '$request.path.vault_id', credential_id: '#/id' } },
      ValidateCredential: { to: 'POST /v1/vaults/{vault_id}/credentials/{credential_id}/mcp_oauth_validate', parameters: { vault_id: '$request.path.vault_id', credential_id: '#/id' } },
    },
  },
  {
    returnedBy: ['POST /v1/memory_stores', 'GET /v1/memory_stores/{memory_store_id}', 'POST /v1/memory_stores/{memory_store_id}', 'POST /v1/memory_stores/{memory_store_id}/archive'],
    listedBy: ['GET /v1/memory_stores'],
    deletedBy: ['DELETE /v1/memory_stores/{memory_store_id}'],
    uses: {
      RetrieveMemoryStore: { to: 'GET /v1/memory_stores/{memory_store_id}', parameters: id('memory_store_id') },
      UpdateMemoryStore: { to: 'POST /v1/memory_stores/{memory_store_id}', parameters: id('memory_store_id') },
      ArchiveMemoryStore: { to: 'POST /v1/memory_stores/{memory_store_id}/archive', parameters: id('memory_store_id') },
      DeleteMemoryStore: { to: 'DELETE /v1/memory_stores/{memory_store_id}', parameters: id('memory_store_id') },
      CreateMemory: { to: 'POST /v1/memory_stores/{memory_store_id}/memories', parameters: id('memory_store_id') },
      ListMemories: { to: 'GET /v1/memory_stores/{memory_store_id}/memories', parameters: id('memory_store_id') },
      ListMemoryVersions: { to: 'GET /v1/memory_stores/{memory_store_id}/memory_versions', parameters: id('memory_store_id') },
      // Not to the schedule's other operations: a store has no schedule until one is set (they answer 404).
      SetDreamSchedule: { to: 'POST /v1/memory_stores/{memory_store_id}/dream_schedule', parameters: id('memory_store_id') },
      ListSessionsWithStore: { to: 'GET /v1/sessions', parameters: id('memory_store_id') },
      CreateSessionWithStore: { to: 'POST /v1/sessions', requestBody: { resources: [{ type: 'memory_store', memory_store_id: '#/id' }] } },
    },
  },
  {
    returnedBy: ['POST /v1/memory_stores/{memory_store_id}/memories', 'GET /v1/memory_stores/{memory_store_id}/memories/{memory_id}', 'POST /v1/memory_stores/{memory_store_id}/memories/{memory_id}'],
    listedBy: ['GET /v1/memory_stores/{memory_store_id}/memories'],
    deletedBy: ['DELETE /v1/memory_stores/{memory_store_id}/memories/{memory_id}'],
    uses: {
      RetrieveMemory: { to: 'GET /v1/memory_stores/{memory_store_id}/memories/{memory_id}', parameters: { memory_store_id: '$request.path.memory_store_id', memory_id: '#/id' } },
      UpdateMemory: {
        to: 'POST /v1/memory_stores/{memory_store_id}/memories/{memory_id}',
        parameters: { memory_store_id: '$request.path.memory_store_id', memory_id: '#/id' },
        requestBody: { precondition: { type: 'content_sha256', content_sha256: '#/content_sha256' } },
      },
      DeleteMemory: {
        to: 'DELETE /v1/memory_stores/{memory_store_id}/memories/{memory_id}',
        parameters: { memory_store_id: '$request.path.memory_store_id', memory_id: '#/id', expected_content_sha256: '#/content_sha256' },
      },
      ListVersionsOfMemory: { to: 'GET /v1/memory_stores/{memory_store_id}/memory_versions', parameters: { memory_store_id: '$request.path.memory_store_id', memory_id: '#/id' } },
      RetrieveMemoryVersion: {
        to: 'GET /v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}',
        parameters: { memory_store_id: '$request.path.memory_store_id', memory_version_id: '#/memory_version_id' },
      },
    },
  },
  {
    returnedBy: ['GET /v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}', 'POST /v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}/redact'],
    listedBy: ['GET /v1/memory_stores/{memory_store_id}/memory_versions'],
    uses: {
      RetrieveVersion: { to: 'GET /v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}', parameters: { memory_store_id: '#/memory_store_id', memory_version_id: '#/id' } },
      RedactVersion: { to: 'POST /v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}/redact', parameters: { memory_store_id: '#/memory_store_id', memory_version_id: '#/id' } },
    },
  },
  {
    returnedBy: ['POST /v1/memory_stores/{memory_store_id}/dream_schedule', 'GET /v1/memory_stores/{memory_store_id}/dream_schedule', 'POST /v1/memory_stores/{memory_store_id}/dream_schedule/run'],
    deletedBy: ['DELETE /v1/memory_stores/{memory_store_id}/dream_schedule'],
    uses: {
      RetrieveDreamSchedule: { to: 'GET /v1/memory_stores/{memory_store_id}/dream_schedule', parameters: id('memory_store_id', '#/memory_store_id') },
      RunDreamSchedule: { to: 'POST /v1/memory_stores/{memory_store_id}/dream_schedule/run', parameters: id('memory_store_id', '#/memory_store_id') },
      DeleteDreamSchedule: { to: 'DELETE /v1/memory_stores/{memory_store_id}/dream_schedule', parameters: id('memory_store_id', '#/memory_store_id') },
    },
  },
  {
    returnedBy: [
      'POST /v1/deployments',
      'GET /v1/deployments/{deployment_id}',
      'POST /v1/deployments/{deployment_id}',
      'POST /v1/deployments/{deployment_id}/archive',
      'POST /v1/deployments/{deployment_id}/pause',
      'POST /v1/deployments/{deployment_id}/unpause',
    ],
    listedBy: ['GET /v1/deployments'],
    uses: {
      RetrieveDeployment: { to: 'GET /v1/deployments/{deployment_id}', parameters: id('deployment_id') },
      UpdateDeployment: { to: 'POST /v1/deployments/{deployment_id}', parameters: id('deployment_id') },
      ArchiveDeployment: { to: 'POST /v1/deployments/{deployment_id}/archive', parameters: id('deployment_id') },
      PauseDeployment: { to: 'POST /v1/deployments/{deployment_id}/pause', parameters: id('deployment_id') },
      UnpauseDeployment: { to: 'POST /v1/deployments/{deployment_id}/unpause', parameters: id('deployment_id') },
      RunDeployment: { to: 'POST /v1/deployments/{deployment_id}/run', parameters: id('deployment_id') },
      ListRunsOfDeployment: { to: 'GET /v1/deployment_runs', parameters: id('deployment_id') },
      CreateSessionLikeDeployment: { to: 'POST /v1/sessions', requestBody: { agent: '#/agent/id', environment_id: '#/environment_id' } },
    },
  },
  {
    returnedBy: ['POST /v1/deployments/{deployment_id}/run', 'GET /v1/deployment_runs/{deployment_run_id}'],
    listedBy: ['GET /v1/deployment_runs'],
    uses: {
      RetrieveRun: { to: 'GET /v1/deployment_runs/{deployment_run_id}', parameters: id('deployment_run_id') },
      RetrieveRunDeployment: { to: 'GET /v1/deployments/{deployment_id}', parameters: id('deployment_id', '#/deployment_id') },
      RetrieveRunSession: { to: 'GET /v1/sessions/{session_id}', parameters: id('session_id', '#/session_id') },
    },
  },
  {
    returnedBy: ['POST /v1/dreams', 'GET /v1/dreams/{dream_id}', 'POST /v1/dreams/{dream_id}/cancel', 'POST /v1/dreams/{dream_id}/archive'],
    listedBy: ['GET /v1/dreams'],
    uses: {
      RetrieveDream: { to: 'GET /v1/dreams/{dream_id}', parameters: id('dream_id') },
      CancelDream: { to: 'POST /v1/dreams/{dream_id}/cancel', parameters: id('dream_id') },
      ArchiveDream: { to: 'POST /v1/dreams/{dream_id}/archive', parameters: id('dream_id') },
      RetrieveDreamSession: { to: 'GET /v1/sessions/{session_id}', parameters: id('session_id', '#/session_id') },
      RetrieveDreamOutput: { to: 'GET /v1/memory_stores/{memory_store_id}', parameters: id('memory_store_id', '#/outputs/0/memory_store_id') },
      CreateDreamLikeThis: { to: 'POST /v1/dreams', requestBody: { inputs: '#/inputs' } },
    },
  },
  {
    returnedBy: [
      'POST /v1/webhook_endpoints',
      'GET /v1/webhook_endpoints/{webhook_endpoint_id}',
      'POST /v1/webhook_endpoints/{webhook_endpoint_id}',
      'POST /v1/webhook_endpoints/{webhook_endpoint_id}/archive',
    ],
    listedBy: ['GET /v1/webhook_endpoints'],
    uses: {
      RetrieveWebhookEndpoint: { to: 'GET /v1/webhook_endpoints/{webhook_endpoint_id}', parameters: id('webhook_endpoint_id') },
      UpdateWebhookEndpoint: { to: 'POST /v1/webhook_endpoints/{webhook_endpoint_id}', parameters: id('webhook_endpoint_id') },
      ArchiveWebhookEndpoint: { to: 'POST /v1/webhook_endpoints/{webhook_endpoint_id}/archive', parameters: id('webhook_endpoint_id') },
      ListDeliveries: { to: 'GET /v1/webhook_endpoints/{webhook_endpoint_id}/deliveries', parameters: id('webhook_endpoint_id') },
    },
  },
];

/** `#/paths/~1v1~1agents~1{agent_id}/get`: where the operation is in the document. */
const operationRef = (operation: Operation) => {
  const [method, path] = operation.split(' ') as [string, string];
  return `#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method.toLowerCase()}`;
};

/** A link value as an OpenAPI runtime expression; `base` is where the object sits in the answer. */
function expression(value: LinkValue, base: string): LinkValue {
  if (typeof value === 'string') return value.startsWith('#/') ? `$response.body#${base}${value.slice(1)}` : value;
  if (Array.isArray(value)) return value.map((item) => expression(item, base));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expression(item, base)]));
  return value;
}

/**
 * Adds OpenAPI `links` to the 200 answers of the routes `app` serves, from `RESOURCES`:
 * each links to the operations that can use what it returned. A link to an operation the
 * app does not serve (a server without files or vaults) is left out.
 */
export function declareLinks(app: Pick<ApiApp, 'openAPIRegistry'>): void {
  const routes = new Map<string, RouteConfig>();
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type === 'route') routes.set(`${definition.route.method.toUpperCase()} ${definition.route.path}`, definition.route);
  }
  for (const resource of RESOURCES) {
    const retrieve = Object.keys(resource.uses)[0];
    const sources = [
      ...[...resource.returnedBy, ...(resource.deletedBy ?? [])].map((operation) => ({ operation, base: '', uses: Object.entries(resource.uses) })),
      ...(resource.listedBy ?? []).map((operation) => ({ operation, base: '/data/0', uses: Object.entries(resource.uses).filter(([name]) => name === retrieve) })),
    ];
    for (const { operation, base, uses } of sources) {
      const route = routes.get(operation);
      const answer = route?.responses['200'];
      if (!route || !answer || '$ref' in answer) continue;
      const links: Record<string, object> = { ...answer.links };
      for (const [name, use] of uses) {
        if (!routes.has(use.to)) continue;
        links[name] = {
          operationRef: operationRef(use.to),
          ...(use.parameters ? { parameters: expression(use.parameters, base) } : {}),
          ...(use.requestBody ? { requestBody: expression(use.requestBody, base) } : {}),
        };
      }
      route.responses = { ...route.responses, 200: { ...answer, links } };
    }
  }
}
