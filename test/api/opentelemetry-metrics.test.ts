import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metrics as otelMetrics } from '@opentelemetry/api';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript, type ScriptFunction } from '../../src/testing/index.ts';
import { startMetrics, startMetricsFromEnv } from '../../src/telemetry/start-metrics.ts';
import { startTestTemporal } from '../support/harness.ts';
import { eventually } from '../support/eventually.ts';
import { startOtlpReceiver, type ReceivedPoint } from '../support/otlp-receiver.ts';
import { runQuickstartTurn, startApiFixture } from './api-fixture.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

/** The demo turn, its first model request failing mid-stream as an overloaded endpoint's does (the retry answers). */
const overloadedOnce: ScriptFunction = (request, { callIndex }) => (callIndex === 0 ? { fault: 'error_mid_stream', errorType: 'overloaded_error' } : demoAgentScript(request));

/**
 * The latest point of each series of `metric` whose attributes include `where` (exports are
 * cumulative: a series' last point holds its total).
 */
function latest(points: readonly ReceivedPoint[], metric: string, where: Record<string, unknown> = {}): ReceivedPoint[] {
  const series = new Map<string, ReceivedPoint>();
  for (const point of points) {
    if (point.metric !== metric || !Object.entries(where).every(([key, value]) => point.attributes[key] === value)) continue;
    series.set(JSON.stringify(Object.entries(point.attributes).sort()), point);
  }
  return [...series.values()];
}

const total = (points: readonly ReceivedPoint[], field: 'value' | 'count') => points.reduce((sum, point) => sum + (point[field] ?? 0), 0);

test('one session measured: steps, model calls and their tokens, cost and errors by type, tool calls, sandbox starts, the warm pool, API requests; nothing left running', async () => {
  await using receiver = await startOtlpReceiver();
  const meters = await startMetrics({ metricsUrl: receiver.metricsUrl, serviceName: 'longhaul-metrics', exportIntervalMs: 500 });
  const warmTarget = () => receiver.points.filter((p) => p.metric === 'longhaul.sandbox.warm_pool.target').map((p) => p.value);
  try {
    await using f = await startApiFixture({ temporal, script: overloadedOnce, warmPoolSize: 2 });
    await runQuickstartTurn(f, 'Measured');
    // The session asked for the default kind of sandbox: from then on the pool keeps two.
    await eventually('the warm pool’s target exported', () => warmTarget().includes(2), { timeoutMs: 10_000, everyMs: 100 });
  } finally {
    // Exports what was recorded since the last export, and unregisters the global provider.
    await meters.shutdown();
  }
  const { points } = receiver;
  const names = [...new Set(points.map((p) => p.metric))].sort().join(', ');
  assert.ok(points.length > 0, 'no metrics arrived');
  assert.ok(points.every((p) => p.serviceName === 'longhaul-metrics'));

  // The demo turn: three answered model calls (one after a failed attempt), two tool calls.
  const steps = latest(points, 'longhaul.step.duration');
  assert.ok(total(steps, 'count') >= 3, `steps: ${JSON.stringify(steps)} (metrics: ${names})`);
  assert.ok(steps.every((p) => p.kind === 'histogram' && p.unit === 's' && /claude-sonnet-5-5/.test(String(p.attributes['gen_ai.request.model']))));

  const errors = latest(points, 'longhaul.model.errors');
  assert.deepEqual(
    errors.map((p) => [p.attributes['error.type'], p.attributes['longhaul.session.error.type'], p.value]),
    [['overloaded_error', 'model_overloaded_error', 1]],
    "the endpoint's error type, and the session.error type it was reported as",
  );
  const calls = latest(points, 'gen_ai.client.operation.duration');
  assert.equal(total(calls.filter((p) => p.attributes['error.type'] === undefined), 'count'), 3);
  assert.equal(total(calls.filter((p) => p.attributes['error.type'] === 'overloaded_error'), 'count'), 1, "the failed attempt is timed, with the endpoint's error type");

  for (const type of ['input', 'output']) {
    const tokens = latest(points, 'gen_ai.client.token.usage', { 'gen_ai.token.type': type });
    assert.equal(total(tokens, 'count'), 3, `${type} tokens recorded once per answered call`);
  }
  assert.ok(total(latest(points, 'longhaul.model.tokens', { 'longhaul.token.kind': 'output' }), 'value') > 0);
  assert.ok(total(latest(points, 'longhaul.model.cost'), 'value') > 0, 'the calls cost something at list prices');

  const tools = latest(points, 'longhaul.tool.calls');
  assert.equal(total(tools, 'value'), 2, `tool calls: ${JSON.stringify(tools)}`);
  assert.ok(tools.every((p) => typeof p.attributes['gen_ai.tool.name'] === 'string' && p.attributes['longhaul.tool.is_error'] === false));
  assert.equal(total(latest(points, 'longhaul.tool.duration'), 'count'), 2);

  const starts = latest(points, 'longhaul.sandbox.starts');
  assert.equal(total(starts, 'value'), 1, `one sandbox for the session: ${JSON.stringify(starts)}`);
  assert.ok(['cold', 'warm_pool'].includes(String(starts[0]?.attributes['longhaul.sandbox.source'])));
  assert.equal(total(latest(points, 'longhaul.sandbox.start.duration'), 'count'), 1);

  const warmPool = points.filter((p) => p.metric.startsWith('longhaul.sandbox.warm_pool.'));
  assert.ok(warmPool.every((p) => p.kind === 'gauge' && p.unit === '{container}'), JSON.stringify(warmPool));
  const ready = warmPool.filter((p) => p.metric === 'longhaul.sandbox.warm_pool.ready').map((p) => p.value ?? -1);
  assert.ok(ready.length > 0 && ready.every((value) => value >= 0 && value <= 2), `ready: ${ready.join(' ')}`);
  assert.equal(warmTarget().at(-1), 0, 'a closed pool keeps none');

  const creates = latest(points, 'http.server.request.duration', { 'http.route': '/v1/sessions', 'http.request.method': 'POST', 'http.response.status_code': 200 });
  assert.equal(total(creates, 'count'), 1);
  // Routes, never paths: no series carries a session id.
  assert.ok(latest(points, 'http.server.request.duration').every((p) => !JSON.stringify(p.attributes).includes('sesn_')));

  // Counted while its calls ran, and back to zero once the session went idle.
  const running = latest(points, 'longhaul.sessions.running');
  assert.equal(running.length, 1, `sessions running: ${JSON.stringify(running)}`);
  assert.equal(running[0]?.value, 0);
});

test('with no OTEL_* variables no meter provider is registered and nothing is exported', async () => {
  await using receiver = await startOtlpReceiver();
  assert.equal(await startMetricsFromEnv({}), undefined);
  await using f = await startApiFixture({ temporal, script: demoAgentScript });
  await runQuickstartTurn(f, 'Measured');
  // OpenTelemetry's no-op meter: its instruments record nothing anywhere.
  assert.equal(otelMetrics.getMeterProvider().constructor.name, 'NoopMeterProvider');
  assert.equal(receiver.requests, 0);
  assert.deepEqual(receiver.points, []);
});
