/** Where and as what Longhaul exports its traces; absent means tracing is off. */
export type TelemetrySettings = {
  /** The OTLP/HTTP traces URL, e.g. `http://collector:4318/v1/traces`. */
  tracesUrl: string;
  /** `service.name` of every span. Default `longhaul`. */
  serviceName: string;
};

/**
 * Tracing settings from the standard `OTEL_*` variables, or `undefined` (off) unless they
 * ask for it: `OTEL_TRACES_EXPORTER=otlp` or an OTLP endpoint turns it on;
 * `OTEL_SDK_DISABLED=true` and `OTEL_TRACES_EXPORTER=none` win.
 *
 * @example
 * const settings = telemetryFromEnv(process.env); // undefined with no OTEL_* set
 */
export function telemetryFromEnv(env: NodeJS.ProcessEnv): TelemetrySettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporters = env.OTEL_TRACES_EXPORTER?.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  if (exporters && exporters.length > 0 && !exporters.includes('otlp')) return undefined;
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!tracesEndpoint && !endpoint && !exporters?.includes('otlp')) return undefined;
  // Per the OTLP exporter spec: the signal-specific endpoint is used as is, the base one gets `/v1/traces`.
  const tracesUrl = tracesEndpoint || `${(endpoint || 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`;
  return { tracesUrl, serviceName: env.OTEL_SERVICE_NAME?.trim() || 'longhaul' };
}
