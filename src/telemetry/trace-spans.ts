import { SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';

/**
 * Longhaul's own tracer, looked up on each use: a tracer kept from an earlier provider
 * would outlive that provider's shutdown. A no-op until `startTelemetry` registers one.
 */
export function tracer(): Tracer {
  return trace.getTracer('longhaul');
}

/**
 * Runs `work` inside an active span named `name`; a throw marks the span an error
 * (with `error.type`) and is rethrown. `work` adds its own attributes to the span.
 */
export function inSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.setAttribute('error.type', errorTypeOf(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The API error's `type` (`overloaded_error`, …) when it has one, else the error class's name. */
export function errorTypeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'type' in error && typeof error.type === 'string') return error.type;
  return error instanceof Error ? error.name : 'unknown';
}
