import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/dev-config.ts';
import { metricsFromEnv, telemetryFromEnv } from '../../src/telemetry/telemetry-settings.ts';

test('telemetryFromEnv: off unless the OTEL_* variables ask for traces; disabling wins', () => {
  const cases: { env: NodeJS.ProcessEnv; expected: ReturnType<typeof telemetryFromEnv> }[] = [
    { env: {}, expected: undefined },
    { env: { OTEL_SERVICE_NAME: 'only-a-name' }, expected: undefined },
    { env: { OTEL_TRACES_EXPORTER: 'otlp' }, expected: { tracesUrl: 'http://localhost:4318/v1/traces', serviceName: 'longhaul' } },
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, expected: { tracesUrl: 'http://collector:4318/v1/traces', serviceName: 'longhaul' } },
    {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9000/custom', OTEL_SERVICE_NAME: 'engine-a' },
      expected: { tracesUrl: 'http://traces:9000/custom', serviceName: 'engine-a' },
    },
    { env: { OTEL_TRACES_EXPORTER: 'console, otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, expected: { tracesUrl: 'http://c:4318/v1/traces', serviceName: 'longhaul' } },
    { env: { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, expected: undefined },
    { env: { OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, expected: undefined },
    { env: { OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, expected: { tracesUrl: 'http://c:4318/v1/traces', serviceName: 'longhaul' } },
  ];
  for (const { env, expected } of cases) assert.deepEqual(telemetryFromEnv(env), expected, JSON.stringify(env));
});

test('metricsFromEnv: off unless the OTEL_* variables ask for metrics; the base endpoint serves both signals; disabling wins', () => {
  const on = (metricsUrl: string, more: Partial<NonNullable<ReturnType<typeof metricsFromEnv>>> = {}) => ({ metricsUrl, serviceName: 'longhaul', exportIntervalMs: 60_000, ...more });
  const cases: { env: NodeJS.ProcessEnv; expected: ReturnType<typeof metricsFromEnv> }[] = [
    { env: {}, expected: undefined },
    { env: { OTEL_TRACES_EXPORTER: 'otlp' }, expected: undefined },
    { env: { OTEL_METRICS_EXPORTER: 'otlp' }, expected: on('http://localhost:4318/v1/metrics') },
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, expected: on('http://collector:4318/v1/metrics') },
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:9000/x', OTEL_SERVICE_NAME: 'engine-b', OTEL_METRIC_EXPORT_INTERVAL: '5000' }, expected: on('http://m:9000/x', { serviceName: 'engine-b', exportIntervalMs: 5000 }) },
    { env: { OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, expected: undefined },
    { env: { OTEL_SDK_DISABLED: 'true', OTEL_METRICS_EXPORTER: 'otlp' }, expected: undefined },
  ];
  for (const { env, expected } of cases) assert.deepEqual(metricsFromEnv(env), expected, JSON.stringify(env));
  // Metrics off leaves tracing as the endpoint asks, and the other way round.
  assert.equal(telemetryFromEnv({ OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })?.tracesUrl, 'http://c:4318/v1/traces');
  for (const interval of ['0', '-5', '1.5', 'soon']) {
    assert.throws(() => metricsFromEnv({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: interval }), (error: unknown) => error instanceof ConfigError && /OTEL_METRIC_EXPORT_INTERVAL/.test(error.message));
  }
});
