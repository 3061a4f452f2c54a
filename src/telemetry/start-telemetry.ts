import { createRequire } from 'node:module';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import { telemetryFromEnv, type TelemetrySettings } from './telemetry-settings.ts';

/** Tracing, started: what the Temporal client, the worker and the workflow bundle need to join it. */
export type Telemetry = {
  /** For the workflow client: starts and signals carry the caller's span context. */
  workflowClientInterceptors: WorkflowClientInterceptor[];
  /** For the worker: one span per activity, a child of the workflow's. */
  activityInterceptors: ActivityInterceptorsFactory[];
  /** For the worker: the sink through which the workflow sandbox's spans leave. */
  sinks: InjectedSinks<OpenTelemetrySinks>;
  /** For the workflow bundle: the workflow interceptors that make the workflow's spans. */
  workflowInterceptorModules: string[];
  /** Flushes the spans not yet exported and unregisters the global tracer provider. */
  shutdown(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * Registers a global tracer provider exporting over OTLP/HTTP (JSON) to `tracesUrl`.
 * The OpenTelemetry SDK is imported here, so a process with tracing off never loads it.
 * One at a time per process: the provider is global.
 *
 * @example
 * const settings = telemetryFromEnv(process.env);
 * await using telemetry = settings ? await startTelemetry(settings) : undefined;
 */
export async function startTelemetry({ tracesUrl, serviceName }: TelemetrySettings): Promise<Telemetry> {
  const [api, { NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { Resource }, { ATTR_SERVICE_NAME }, temporalOtel] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
    import('@temporalio/interceptors-opentelemetry'),
  ]);
  const resource = new Resource({ [ATTR_SERVICE_NAME]: serviceName });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Sets the global tracer provider, the AsyncLocalStorage context manager and the W3C propagator.
  provider.register();
  const shutdown = async () => {
    await provider.shutdown();
    api.trace.disable();
    api.context.disable();
    api.propagation.disable();
  };
  return {
    workflowClientInterceptors: [new temporalOtel.OpenTelemetryWorkflowClientInterceptor()],
    activityInterceptors: [
      (ctx) => ({
        inbound: new temporalOtel.OpenTelemetryActivityInboundInterceptor(ctx),
        outbound: new temporalOtel.OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
    sinks: { exporter: temporalOtel.makeWorkflowExporter(spanProcessor, resource) },
    workflowInterceptorModules: [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * `startTelemetry` when the `OTEL_*` variables ask for tracing (`telemetryFromEnv`), else
 * `undefined` and nothing of the OpenTelemetry SDK loaded.
 *
 * @example
 * const telemetry = await startTelemetryFromEnv(process.env);
 */
export async function startTelemetryFromEnv(env: NodeJS.ProcessEnv): Promise<Telemetry | undefined> {
  const settings = telemetryFromEnv(env);
  return settings ? startTelemetry(settings) : undefined;
}
