import { metricsFromEnv, type MetricsSettings } from './telemetry-settings.ts';

/** Metrics, started: flush what is not yet exported with `shutdown`. */
export type Metrics = {
  /** Exports what was recorded since the last export and unregisters the global meter provider. */
  shutdown(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * Registers a global meter provider exporting over OTLP/HTTP (JSON, like the traces) to
 * `metricsUrl` every `exportIntervalMs`, with cumulative temporality (the exporter's
 * default, what Prometheus-style back ends expect). The SDK is imported here, so a process
 * with metrics off never loads it. One at a time per process: the provider is global.
 *
 * @example
 * const settings = metricsFromEnv(process.env);
 * await using metrics = settings ? await startMetrics(settings) : undefined;
 */
export async function startMetrics({ metricsUrl, serviceName, exportIntervalMs }: MetricsSettings): Promise<Metrics> {
  const [api, { MeterProvider, PeriodicExportingMetricReader }, { OTLPMetricExporter }, { Resource }, { ATTR_SERVICE_NAME }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/exporter-metrics-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: metricsUrl }),
    exportIntervalMillis: exportIntervalMs,
    // An export may not outlast the interval (the SDK refuses a timeout above it).
    exportTimeoutMillis: Math.min(30_000, exportIntervalMs),
  });
  const provider = new MeterProvider({ resource: new Resource({ [ATTR_SERVICE_NAME]: serviceName }), readers: [reader] });
  api.metrics.setGlobalMeterProvider(provider);
  const shutdown = async () => {
    await provider.shutdown();
    api.metrics.disable();
  };
  return { shutdown, [Symbol.asyncDispose]: shutdown };
}

/**
 * `startMetrics` when the `OTEL_*` variables ask for metrics (`metricsFromEnv`), else
 * `undefined` and nothing of the metrics SDK loaded.
 */
export async function startMetricsFromEnv(env: NodeJS.ProcessEnv): Promise<Metrics | undefined> {
  const settings = metricsFromEnv(env);
  return settings ? startMetrics(settings) : undefined;
}
