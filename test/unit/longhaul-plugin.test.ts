import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';
import { openPgliteDriver } from '../../src/store/pglite-driver.ts';
import { SessionStore } from '../../src/store/session-store.ts';
import { LonghaulPlugin, type LonghaulPluginOptions } from '../../src/worker/longhaul-plugin.ts';
import { startTelemetry } from '../../src/telemetry/start-telemetry.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/plugin-host/${name}`, import.meta.url));
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

async function withPlugin(body: (plugin: LonghaulPlugin) => Promise<void>, more: Partial<LonghaulPluginOptions> = {}): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'longhaul-plugin-test-'));
  await using store = await SessionStore.open(await openPgliteDriver());
  try {
    await body(new LonghaulPlugin({ store, sandboxes: new DockerSandboxDriver({ dataDir }), ...more }));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test("the plugin's bundle holds the worker's workflows, Longhaul's, and Longhaul's workflow interceptor", async () => {
  await withPlugin(async (plugin) => {
    const { code } = await bundleWorkflowCode({ workflowsPath: fixture('workflows.ts'), plugins: [plugin], logger: quiet });
    for (const name of ['reviewTicketWorkflow', 'sessionWorkflow', 'threadWorkflow', 'runAgentSession']) assert.match(code, new RegExp(`\\b${name}\\b`), name);
    assert.match(code, /store-identity-interceptors\.ts/);
  });
});

test('a workflow name both the worker and Longhaul export fails the bundle', async () => {
  await withPlugin(async (plugin) => {
    const logged: string[] = [];
    const logger = { ...quiet, error: (message: string) => void logged.push(message) };
    await assert.rejects(bundleWorkflowCode({ workflowsPath: fixture('clashing-workflows.ts'), plugins: [plugin], logger }), /Webpack finished with errors/);
    assert.match(logged.join('\n'), /LonghaulPlugin: a workflow name is both the worker's and Longhaul's.*sessionWorkflow/s);
  });
});

test("an activity name both the worker and Longhaul use is refused, not overwritten; the worker's others stay", async () => {
  await withPlugin(async (plugin) => {
    const own = { fileReview: async () => 'filed' };
    const configured = plugin.configureWorker({ taskQueue: 'orders', activities: own });
    assert.equal((configured.activities as Record<string, unknown>).fileReview, own.fileReview);
    assert.ok('callModel' in (configured.activities as object));
    assert.doesNotThrow(() => plugin.configureWorker(configured), 'applied twice, the plugin finds its own activities');
    assert.throws(() => plugin.configureWorker({ taskQueue: 'orders', activities: { emitEvents: async () => {} } }), /already has activities named emitEvents/);
  });
});

test('given telemetry, the plugin adds the tracing interceptors and sink beside the worker\'s own; without it, none', async () => {
  // Nothing is exported: no span is made here, and shutdown flushes none.
  await using telemetry = await startTelemetry({ tracesUrl: 'http://127.0.0.1:9/v1/traces', serviceName: 'plugin-test' });
  const ownSink = { audit: { record: { fn: () => {} } } };
  const ownModule = fixture('workflows.ts');
  await withPlugin(
    async (plugin) => {
      const worker = plugin.configureWorker({ taskQueue: 'orders', sinks: ownSink });
      for (const factory of telemetry.activityInterceptors) assert.ok(worker.interceptors?.activity?.includes(factory), 'activity span interceptors');
      assert.equal(worker.sinks?.audit, ownSink.audit);
      assert.equal(worker.sinks?.exporter, telemetry.sinks.exporter, 'the sink the workflow spans leave by');
      assert.equal(plugin.configureReplayWorker({ sinks: ownSink }).sinks?.exporter, telemetry.sinks.exporter, 'replay keeps the sink the bundle calls');
      const bundle = plugin.configureBundler({ workflowsPath: ownModule });
      for (const module of telemetry.workflowInterceptorModules) assert.ok(bundle.workflowInterceptorModules?.includes(module), module);
      const client = plugin.configureClient({});
      assert.deepEqual(client.interceptors?.workflow, telemetry.workflowClientInterceptors);
    },
    { telemetry },
  );
  await withPlugin(async (plugin) => {
    const worker = plugin.configureWorker({ taskQueue: 'orders', sinks: ownSink });
    assert.equal(worker.interceptors?.activity?.length, 1, 'the store check only');
    assert.deepEqual(Object.keys(worker.sinks ?? {}), ['audit']);
    assert.ok(!plugin.configureBundler({ workflowsPath: ownModule }).workflowInterceptorModules?.some((module) => module.includes('interceptors-opentelemetry')));
    assert.equal(plugin.configureClient({}).interceptors, undefined);
  });
});
