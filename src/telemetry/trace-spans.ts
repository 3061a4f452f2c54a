import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

/** Longhaul's own tracer; a no-op until `startTelemetry` registers a provider. */
export const tracer = trace.getTracer('longhaul');

/**
 * Runs `work` inside an active span named `name`; a throw marks the span an error
 * (with `error.type`) and is rethrown. `work` adds its own attributes to the span.
 */
export function inSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
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

function errorTypeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'type' in error && typeof error.type === 'string') return error.type;
  return error instanceof Error ? error.name : 'unknown';
}
