import assert from 'node:assert/strict';
import { test } from 'node:test';
import { telemetryFromEnv } from '../../src/telemetry/telemetry-settings.ts';

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
