import type { RouteConfig } from '@hono/zod-openapi';
import { z } from 'zod';
import { API_ERROR_STATUS, type ApiErrorType } from './api-errors.ts';
import type { ApiApp } from './api-types.ts';

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

/**
 * A JSON request body. It is required unless `{}` is valid: then a request without one is
 * taken as `{}` (an update that changes nothing), and the document says so.
 */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: !schema.safeParse({}).success, content: { 'application/json': { schema } } });

/** `request-id`, which every answer carries (the SDK reads it into `error.requestID` / `_request_id`). */
const REQUEST_ID_HEADER = { 'request-id': { description: 'The id of this request, as `request_id` in an error body names it', required: true, schema: { type: 'string', pattern: '^req_' } } } as const;

/** The Anthropic error envelope whose `error.type` is one of `types` (`BetaErrorResponse`). */
function errorEnvelope(id: string, types: readonly [ApiErrorType, ...ApiErrorType[]]) {
  return z
    .object({
      type: z.literal('error'),
      error: z.object({
        type: z.enum(types),
        message: z.string(),
        details: z.record(z.string(), z.unknown()).optional(),
        // `memory_path_conflict_error` says which memory is in the way (`BetaManagedAgentsMemoryPathConflictErrorObject`).
        conflicting_memory_id: z.string().optional(),
        conflicting_path: z.string().optional(),
      }),
      request_id: z.string().nullable(),
    })
    .meta({ id });
}

/** Error types by the status they are sent with (`API_ERROR_STATUS`), as the document declares them. */
const typesWithStatus = (status: number) => (Object.keys(API_ERROR_STATUS) as ApiErrorType[]).filter((type) => API_ERROR_STATUS[type] === status) as [ApiErrorType, ...ApiErrorType[]];

const errorResponse = (description: string, schema: z.ZodType, headers: Record<string, unknown> = {}) => ({
  description,
  headers: { ...REQUEST_ID_HEADER, ...headers },
  content: { 'application/json': { schema } },
});

const ERRORS = {
  400: errorResponse('Invalid request: the message names the field', errorEnvelope('InvalidRequestErrorResponse', typesWithStatus(400))),
  401: errorResponse('Missing or invalid API key', errorEnvelope('AuthenticationErrorResponse', typesWithStatus(401))),
  404: errorResponse('No such resource (or something the request names is gone)', errorEnvelope('NotFoundErrorResponse', typesWithStatus(404))),
  409: errorResponse('Conflicts with the current state: the same request fails the same way', errorEnvelope('ConflictErrorResponse', typesWithStatus(409)), {
    'x-should-retry': { description: 'Always `false`: tells the SDK not to retry', required: true, schema: { type: 'string', enum: ['false'] } },
  }),
  413: errorResponse('The request body is larger than the server accepts', errorEnvelope('RequestTooLargeErrorResponse', typesWithStatus(413))),
  415: errorResponse('The body is not of the media type the operation takes', errorEnvelope('UnsupportedMediaTypeErrorResponse', ['invalid_request_error'])),
  500: errorResponse('Internal error (its details stay in the server log)', errorEnvelope('ApiErrorResponse', typesWithStatus(500))),
  503: errorResponse('The server has no secret key, which this feature needs; the message says how to set one', errorEnvelope('UnavailableErrorResponse', ['api_error'])),
} as const;

/** Declared by routes a worker credential may be refused by (a self-hosted environment's work queue). */
export const FORBIDDEN_RESPONSES = {
  403: errorResponse('The credential does not serve this operation: the message says which one does', errorEnvelope('PermissionErrorResponse', typesWithStatus(403))),
} as const;

/** Declared by the work item heartbeat: the lease is not the one the caller expected. */
export const PRECONDITION_RESPONSES = {
  412: errorResponse('`expected_last_heartbeat` does not match the lease: another worker may hold the item (`details.error_code` is `heartbeat_precondition_failed`)', errorEnvelope('PreconditionFailedErrorResponse', ['invalid_request_error'])),
} as const;

/** Declared by the routes of features that need the server's secret key (vaults, webhook endpoints). */
export const SECRET_KEY_RESPONSES = { 503: ERRORS[503] } as const;

/**
 * Declares, on every route of `app`, the error responses any route may give, each with its
 * envelope schema, and `request-id` on every response: 400, 401, 404, 409 and 500
 * everywhere, 413 where there is a body, 415 where it is JSON. The one place error responses
 * are declared: routes declare what they answer on success (and 503 where a secret key is
 * needed), and handlers only throw typed errors, which `onError` renders.
 */
export function declareCommonResponses(app: Pick<ApiApp, 'openAPIRegistry'>): void {
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== 'route') continue;
    const route: RouteConfig = definition.route;
    const responses: RouteConfig['responses'] = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = '$ref' in response ? response : { ...response, headers: { ...REQUEST_ID_HEADER, ...(response.headers as Record<string, unknown> | undefined) } };
    }
    const body = route.request?.body !== undefined || route.requestBody !== undefined;
    // The router refuses a JSON body sent as another media type with 415 before the route runs.
    const json = route.request?.body?.content['application/json'] !== undefined;
    const common = { 400: ERRORS[400], 401: ERRORS[401], 404: ERRORS[404], 409: ERRORS[409], ...(body ? { 413: ERRORS[413] } : {}), ...(json ? { 415: ERRORS[415] } : {}), 500: ERRORS[500] };
    for (const [status, response] of Object.entries(common)) responses[status] ??= response;
    route.responses = responses;
  }
}
