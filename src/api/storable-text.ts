import type { MiddlewareHandler } from 'hono';
import { BadRequestError } from './api-errors.ts';

const PROBLEM = 'must not contain NUL characters or unpaired UTF-16 surrogates';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True for text PostgreSQL can store (in `text` and `jsonb`): no NUL, no lone surrogate. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/** The dotted path (`events.0.content.0.text`) of the first string or key in `value` that is not storable, if any. */
export function unstorableTextPath(value: unknown, path: (string | number)[] = []): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : path.join('.') || 'body';
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = unstorableTextPath(item, [...path, index]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (!isStorableText(key)) return [...path, key].join('.');
      const found = unstorableTextPath(item, [...path, key]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

// The only ways JSON text can spell a NUL or a lone surrogate: as \u escapes.
const SUSPICIOUS_ESCAPE = /\\u(0000|d[89a-f][0-9a-f]{2})/i;

/**
 * Refuses, with a 400 naming the field, text that no store could keep: in the path,
 * in a query value, or anywhere in a JSON body. One gate in front of every route, so
 * a NUL never reaches a SQL statement as a 500.
 */
export function storableText(): MiddlewareHandler {
  return async (c, next) => {
    let path: string;
    try {
      path = decodeURIComponent(c.req.path);
    } catch {
      throw new BadRequestError('path: malformed percent-encoding');
    }
    if (!isStorableText(path)) throw new BadRequestError(`path: ${PROBLEM}`);
    for (const [name, value] of new URL(c.req.url).searchParams) {
      if (!isStorableText(name) || !isStorableText(value)) throw new BadRequestError(`${isStorableText(name) ? name : 'query'}: ${PROBLEM}`);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && (c.req.header('content-type') ?? '').includes('json')) {
      // Read once; Hono keeps the text for the route's own JSON parsing.
      const raw = await c.req.text();
      if (SUSPICIOUS_ESCAPE.test(raw)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          parsed = undefined; // Not JSON: the route's validator says so.
        }
        const where = unstorableTextPath(parsed);
        if (where !== undefined) throw new BadRequestError(`${where}: ${PROBLEM}`);
      }
    }
    await next();
  };
}
