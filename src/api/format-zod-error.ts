import type { z } from 'zod';

/**
 * One line per problem, each naming the field path the way a client wrote it:
 * `agent: Required`, `events.0.content: Too small: expected array to have >=1 items`.
 */
export function formatZodError(error: z.ZodError, input: unknown, { prefix = [] }: { prefix?: (string | number)[] } = {}): string {
  const lines = error.issues.map((issue) => {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? p.toString() : p))];
    const where = path.length > 0 ? path.join('.') : 'body';
    const missing = (issue.code === 'invalid_type' || issue.code === 'invalid_union') && valueAt(input, issue.path) === undefined;
    return `${where}: ${missing ? 'Required' : issue.message}`;
  });
  return [...new Set(lines)].join('; ');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
