import { SpanKind, SpanStatusCode, context, propagation } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { tracer } from '../telemetry/trace-spans.ts';
import { recordHttpRequest, secondsSince } from '../telemetry/metric-instruments.ts';

/**
 * One server span per API request: `http.request.method`, `http.route` and
 * `http.response.status_code`. A `traceparent` header makes it a child of the caller's
 * span. With tracing off (no provider registered) the span is OpenTelemetry's no-op.
 * The request's duration goes to `http.server.request.duration` with the same attributes
 * (a no-op too with metrics off).
 */
export function traceRequests(): MiddlewareHandler {
  return async (c, next) => {
    const parent = propagation.extract(context.active(), c.req.raw.headers, headerGetter);
    const method = c.req.method;
    const startedAt = performance.now();
    await tracer().startActiveSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': c.req.path } }, parent, async (span) => {
      try {
        await next();
      } finally {
        // The handler's route, not a middleware's `*`: known only once routing ran.
        const route = matchedRoutes(c).findLast((r) => r.method !== 'ALL')?.path;
        if (route) {
          span.setAttribute('http.route', route);
          span.updateName(`${method} ${route}`);
        }
        span.setAttribute('http.response.status_code', c.res.status);
        if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        // The route, never the path: ids in paths would make a series per session.
        recordHttpRequest(secondsSince(startedAt), { 'http.request.method': method, 'http.response.status_code': c.res.status, ...(route ? { 'http.route': route } : {}) });
      }
    });
  };
}

const headerGetter = {
  keys: (headers: Headers) => [...headers.keys()],
  get: (headers: Headers, key: string) => headers.get(key) ?? undefined,
};
