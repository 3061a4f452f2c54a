import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript } from '../../src/testing/index.ts';
import { startTelemetry, startTelemetryFromEnv } from '../../src/telemetry/start-telemetry.ts';
import { tracer } from '../../src/telemetry/trace-spans.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { Worker } from '@temporalio/worker';
import { startTestTemporal, workflowBundle } from '../support/harness.ts';
import { startOtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { runQuickstartTurn, startApiFixture } from './api-fixture.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const SERVER = 2;

test('one session traced end to end: API request → workflow start → activity → model call, one trace id, parent → child', async () => {
  await using receiver = await startOtlpReceiver();
  const telemetry = await startTelemetry({ tracesUrl: receiver.tracesUrl, serviceName: 'longhaul-test' });
  try {
    await using f = await startApiFixture({ temporal, script: demoAgentScript, telemetry });
    await runQuickstartTurn(f, 'Traced');
  } finally {
    // Flushes every span not yet exported, and unregisters the global provider.
    await telemetry.shutdown();
  }
  const { spans } = receiver;
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const parentOf = (span: ReceivedSpan) => byId.get(span.parentSpanId);
  const describe = (span: ReceivedSpan | undefined) => (span ? `${span.name} (${span.spanId})` : 'none');

  // The request that created the session started its workflow: the client's start span is the request's child.
  const create = spans.find((s) => s.kind === SERVER && s.name === 'POST /v1/sessions');
  assert.ok(create, `no API span for POST /v1/sessions among ${spans.map((s) => s.name).join(', ')}`);
  assert.equal(create.attributes['http.route'], '/v1/sessions');
  assert.equal(create.attributes['http.request.method'], 'POST');
  assert.equal(create.attributes['http.response.status_code'], 200);
  assert.equal(create.serviceName, 'longhaul-test');
  const start = spans.find((s) => /^(StartWorkflow|SignalWithStartWorkflow):/.test(s.name) && s.parentSpanId === create.spanId);
  assert.ok(start, `no workflow start under ${describe(create)}: ${spans.map((s) => `${s.name}<-${s.parentSpanId}`).join(', ')}`);

  // Every model call: chat span ← RunActivity (worker) ← StartActivity (workflow), all in the session's trace.
  // (The Anthropic SDK's own `anthropic.messages.create` spans are `chat` too, one level down.)
  const workflowRun = spans.find((s) => s.name === 'StartActivity:callModel')?.parentSpanId;
  assert.ok(workflowRun);
  const chats = spans.filter((s) => s.name.startsWith('chat '));
  assert.equal(chats.length, 3, 'the demo turn makes three model calls');
  for (const chat of chats) {
    assert.equal(chat.traceId, create.traceId);
    const runActivity = parentOf(chat);
    assert.match(runActivity?.name ?? '', /^RunActivity:/, `parent of ${describe(chat)}: ${describe(runActivity)}`);
    const startActivity = runActivity && parentOf(runActivity);
    assert.match(startActivity?.name ?? '', /^StartActivity:/, `parent of ${describe(runActivity)}: ${describe(startActivity)}`);
    assert.equal(startActivity?.traceId, create.traceId);
    // The workflow's own run span is the activities' parent; it ends (and is exported) only when the session's workflow does.
    assert.equal(startActivity?.parentSpanId, workflowRun);
    assert.equal(chat.attributes['gen_ai.system'], 'anthropic');
    assert.equal(typeof chat.attributes['gen_ai.request.model'], 'string');
    assert.match(String(chat.attributes['gen_ai.request.model']), /claude-sonnet-5-5/);
    for (const key of ['gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens', 'gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_creation.input_tokens']) {
      assert.equal(typeof chat.attributes[key], 'number', `${key} on ${describe(chat)}: ${JSON.stringify(chat.attributes)}`);
    }
    assert.ok(Number(chat.attributes['gen_ai.usage.output_tokens']) > 0);
    assert.equal((chat.attributes['gen_ai.response.finish_reasons'] as unknown[] | undefined)?.length, 1);
  }

  // Every tool call: its span inside an activity of the same trace, with the tool's name and whether it failed.
  const tools = spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'execute_tool');
  assert.equal(tools.length, 2, 'the demo turn makes two tool calls');
  for (const tool of tools) {
    assert.equal(tool.traceId, create.traceId);
    assert.match(parentOf(tool)?.name ?? '', /^RunActivity:/);
    assert.equal(typeof tool.attributes['gen_ai.tool.name'], 'string');
    assert.equal(tool.attributes['longhaul.tool.is_error'], false);
    // A bash command's exit status; other tools have none.
    assert.equal(tool.attributes['process.exit.code'], tool.attributes['gen_ai.tool.name'] === 'bash' ? 0 : undefined, `exit code on ${describe(tool)}`);
  }
  assert.ok(tools.some((tool) => tool.attributes['gen_ai.tool.name'] === 'bash'), 'the demo turn runs bash');
});

test('with no OTEL_* variables nothing is started and nothing is exported', async () => {
  await using receiver = await startOtlpReceiver();
  assert.equal(await startTelemetryFromEnv({}), undefined);
  await using f = await startApiFixture({ temporal, script: demoAgentScript });
  await runQuickstartTurn(f, 'Traced');
  // No provider registered: Longhaul's spans are OpenTelemetry's no-op ones.
  assert.equal(tracer().startSpan('probe').isRecording(), false);
  assert.equal(receiver.requests, 0);
  assert.deepEqual(receiver.spans, []);
});

test('every recorded workflow history still replays with the tracing interceptors in the bundle', async () => {
  await using receiver = await startOtlpReceiver();
  const telemetry = await startTelemetry({ tracesUrl: receiver.tracesUrl, serviceName: 'longhaul-replay' });
  try {
    const dir = new URL('../fixtures/histories/', import.meta.url);
    const files = readdirSync(dir).filter((name) => name.endsWith('.json'));
    assert.ok(files.length > 0);
    const bundle = await workflowBundle({ telemetry });
    for (const file of files) {
      const history: unknown = JSON.parse(readFileSync(new URL(file, dir), 'utf8'));
      await Worker.runReplayHistory({ workflowBundle: bundle, sinks: telemetry.sinks }, history, `replay-${file}`);
    }
  } finally {
    await telemetry.shutdown();
  }
});
