import { z } from 'zod';

/** The Anthropic error envelope, for the OpenAPI document. */
export const ErrorEnvelope = z.object({
  type: z.literal('error'),
  error: z.object({ type: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  request_id: z.string().nullable(),
});

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelope } } });

/** The error responses every route may give. */
export const ERROR_RESPONSES = {
  400: errorResponse('Invalid request: the message names the field'),
  401: errorResponse('Missing or invalid API key'),
  404: errorResponse('No such resource'),
  409: errorResponse('Conflicts with the current state (not retryable)'),
} as const;

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
