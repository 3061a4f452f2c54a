import { ConfigError } from '../config/dev-config.ts';

/** Where and as what Longhaul exports its traces; absent means tracing is off. */
export type TelemetrySettings = {
  /** The OTLP/HTTP traces URL, e.g. `http://collector:4318/v1/traces`. */
  tracesUrl: string;
  /** `service.name` of every span. Default `longhaul`. */
  serviceName: string;
};

/** Where and how often Longhaul exports its metrics; absent means metrics are off. */
export type MetricsSettings = {
  /** The OTLP/HTTP metrics URL, e.g. `http://collector:4318/v1/metrics`. */
  metricsUrl: string;
  /** `service.name` of every metric. Default `longhaul`. */
  serviceName: string;
  /** How often the metrics are exported (`OTEL_METRIC_EXPORT_INTERVAL`). Default 60 000 ms, the specification's. */
  exportIntervalMs: number;
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
  const tracesUrl = otlpUrlFromEnv(env, 'traces');
  return tracesUrl ? { tracesUrl, serviceName: serviceNameOf(env) } : undefined;
}

/**
 * Metrics settings from the standard `OTEL_*` variables, or `undefined` (off), by the same
 * rules as tracing: `OTEL_METRICS_EXPORTER=otlp` or an OTLP endpoint turns them on;
 * `OTEL_SDK_DISABLED=true` and `OTEL_METRICS_EXPORTER=none` win.
 *
 * @example
 * const settings = metricsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });
 */
export function metricsFromEnv(env: NodeJS.ProcessEnv): MetricsSettings | undefined {
  const metricsUrl = otlpUrlFromEnv(env, 'metrics');
  if (!metricsUrl) return undefined;
  const interval = env.OTEL_METRIC_EXPORT_INTERVAL?.trim();
  const exportIntervalMs = interval ? Number(interval) : 60_000;
  if (!Number.isInteger(exportIntervalMs) || exportIntervalMs <= 0) {
    throw new ConfigError(`OTEL_METRIC_EXPORT_INTERVAL must be a whole number of milliseconds above 0, got ${JSON.stringify(interval)}`);
  }
  return { metricsUrl, serviceName: serviceNameOf(env), exportIntervalMs };
}

/** The OTLP/HTTP URL a signal is exported to, or `undefined` when the variables leave it off. */
function otlpUrlFromEnv(env: NodeJS.ProcessEnv, signal: 'traces' | 'metrics'): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const upper = signal.toUpperCase();
  const exporters = env[`OTEL_${upper}_EXPORTER`]?.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  if (exporters && exporters.length > 0 && !exporters.includes('otlp')) return undefined;
  const signalEndpoint = env[`OTEL_EXPORTER_OTLP_${upper}_ENDPOINT`]?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!signalEndpoint && !endpoint && !exporters?.includes('otlp')) return undefined;
  // Per the OTLP exporter spec: the signal-specific endpoint is used as is, the base one gets `/v1/<signal>`.
  return signalEndpoint || `${(endpoint || 'http://localhost:4318').replace(/\/+$/, '')}/v1/${signal}`;
}

function serviceNameOf(env: NodeJS.ProcessEnv): string {
  return env.OTEL_SERVICE_NAME?.trim() || 'longhaul';
}
