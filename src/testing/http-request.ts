/**
 * Reading and validating incoming requests the way the API does: JSON bodies, the
 * required Messages fields, and 400 `invalid_request_error`s that name the field.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ApiRequestError } from './api-errors.ts';
import type { ScriptedRequest } from './script.ts';

/** The API's request size limit. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Request headers with lowercased names; repeated headers joined with `, `. */
export function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/**
 * Reads the whole body and parses it as JSON.
 * @throws ApiRequestError `request_too_large` past 32 MB, `invalid_request_error` when it is not JSON.
 */
export async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new ApiRequestError('request_too_large', 'Request exceeds the maximum allowed number of bytes.');
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiRequestError('invalid_request_error', `There was an issue with the request body: ${(error as Error).message}`);
  }
}

const required = (expected: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined ? 'Field required' : `Input should be ${expected}`),
});

const MessageShape = z.object({
  role: z.enum(['user', 'assistant', 'system'], required("'user' or 'assistant'")),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string(required('a string')) }))], required('a string or a list of content blocks')),
});

const MessagesRequestShape = z.looseObject({
  model: z.string(required('a valid string')).min(1, 'String should have at least 1 character'),
  messages: z.array(MessageShape, required('a valid list')).min(1, 'at least one message is required'),
  max_tokens: z.number(required('a valid integer')).int('Input should be a valid integer').min(1, 'Input should be greater than or equal to 1'),
  stream: z.boolean(required('a valid boolean')).optional(),
});

const CountTokensRequestShape = MessagesRequestShape.omit({ max_tokens: true, stream: true });

/**
 * Checks the fields every Messages request must carry; the rest passes through.
 * @throws ApiRequestError `invalid_request_error`, e.g. `max_tokens: Field required`.
 */
export function parseMessagesRequest(body: unknown): ScriptedRequest {
  parseOrThrow(MessagesRequestShape, body);
  // The shape check covers what this server reads; the remaining fields are the client's business.
  return body as ScriptedRequest;
}

/** Like `parseMessagesRequest`, for `count_tokens` (no `max_tokens`). */
export function parseCountTokensRequest(body: unknown): { system?: unknown; messages: unknown[]; tools?: unknown } {
  return parseOrThrow(CountTokensRequestShape, body);
}

function parseOrThrow<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiRequestError('invalid_request_error', 'The request body must be a JSON object.');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new ApiRequestError('invalid_request_error', `${where}${issue?.message ?? 'invalid request'}`);
}
