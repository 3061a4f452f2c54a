import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker, type WorkflowBundle } from '@temporalio/worker';
import { Longhaul } from '../../src/client/longhaul.ts';
import type { SessionEvent } from '../../src/schemas/events.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { openPgliteDriver } from '../../src/store/pglite-driver.ts';
import { openPostgresDriver } from '../../src/store/postgres-driver.ts';
import type { FileContentReader } from '../../src/store/file-store.ts';
import { SessionStore } from '../../src/store/session-store.ts';
import { startDevServer, type DevServer, type DevServerOptions } from '../../src/temporal/dev-server.ts';
import { ScriptedModelServer, type Script, type ScriptedModelServerOptions } from '../../src/testing/index.ts';
import { bundleLonghaulWorkflows, createLonghaulWorker, type LonghaulWorkerOptions } from '../../src/worker/create-worker.ts';
import { cachedWorkflowBundle } from '../../src/worker/workflow-bundle-cache.ts';
import { createDeploymentService, type DeploymentService } from '../../src/deployments/deployment-service.ts';
import { dreamingFor } from '../../src/dreams/dreaming.ts';
import type { DreamService } from '../../src/dreams/dream-service.ts';
import type { ApiStores } from '../../src/store/open-api-stores.ts';
import { WebhookPublisher } from '../../src/webhooks/webhook-publisher.ts';
import type { WebhookRetry } from '../../workflows/contract.ts';
import { DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';
import type { ResolveHost } from '../../sandbox/index.ts';
import { freePort } from '../../src/net/free-port.ts';
import { unmountDisksUnder } from './docker.ts';
import type { McpGateway } from '../../activities/mcp-gateway.ts';
import type { CredentialResolver } from '../../src/vaults/credential-resolver.ts';
import type { Telemetry } from '../../src/telemetry/start-telemetry.ts';

// Keep test output readable: the SDK's own INFO lines (worker state changes) are noise here.
Runtime.install({ logger: new DefaultLogger('WARN') });

let bundle: Promise<WorkflowBundle> | undefined;
let tracedBundle: Promise<WorkflowBundle> | undefined;
/**
 * The workflow bundle, as `longhaul dev` gets it: from a cache shared by every test process,
 * checked against its sources, and bundled again when any changed (once per process with
 * tracing's interceptors, for a traced harness).
 */
export function workflowBundle({ telemetry }: { telemetry?: Telemetry | undefined } = {}): Promise<WorkflowBundle> {
  if (telemetry) return (tracedBundle ??= bundleLonghaulWorkflows({ telemetry }));
  return (bundle ??= cachedWorkflowBundle({ cacheDir: fileURLToPath(new URL('../../.cache/test-workflow-bundle', import.meta.url)) }));
}

/** Starts of a test file's Temporal server that lost one of its ports to another process, tried again on fresh ones. */
const TEST_TEMPORAL_START_ATTEMPTS = 3;

/** A Temporal dev server for one test file, on free ports; `dynamicConfig` replaces `LOW_LATENCY_DYNAMIC_CONFIG`. */
export async function startTestTemporal({ dynamicConfig }: Pick<DevServerOptions, 'dynamicConfig'> = {}): Promise<DevServer> {
  const server = await startOnFreshPorts(dynamicConfig);
  // Its history lives in memory and dies with it: a graceful shutdown would only add a second per file.
  const stop = async () => {
    const child = server.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGKILL');
    await gone;
  };
  return { ...server, stop, [Symbol.asyncDispose]: stop };
}

/**
 * A port is free only when it is picked: another test file's server (or its UI, which the
 * CLI's own retries keep on the port it was given) may bind it first. Never reused: a
 * server that answers on a port picked as free is another file's.
 */
async function startOnFreshPorts(dynamicConfig: DevServerOptions['dynamicConfig']): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServer({ port: await freePort(), uiPort: await freePort(), reuse: false, ...(dynamicConfig ? { dynamicConfig } : {}) });
    } catch (error) {
      const lostPort = /address already in use|already answers/.test(String(error));
      if (!lostPort || attempt === TEST_TEMPORAL_START_ATTEMPTS) throw error;
    }
  }
}

/** A worker's context settings (`LonghaulWorkerOptions`). */
export type ContextSettings = Pick<LonghaulWorkerOptions, 'contextWindowTokens' | 'contextBudgetBytes' | 'serverCompaction'>;

export type Harness = {
  longhaul: Longhaul;
  store: SessionStore;
  model: ScriptedModelServer;
  sandboxes: DockerSandboxDriver;
  client: Client;
  taskQueue: string;
  dataDir: string;
  /** Deployments on the API stores given as `apiStores` (their runs run in the harness's workers). */
  deployments: DeploymentService | undefined;
  /** The dream service on `apiStores` (with them only); its dreams run on the harness's workers. */
  dreams: DreamService | undefined;
  /** Outbound webhooks on the API stores given as `apiStores`. */
  webhooks: WebhookPublisher | undefined;
  /** Starts an in-process worker (the harness starts one unless `worker: false`). */
  startWorker(): Promise<{ worker: Worker; stop(): Promise<void> }>;
  [Symbol.asyncDispose](): Promise<void>;
};

let queueCounter = 0;

/**
 * Everything a session needs, really started: the given Temporal server, a
 * store (PGlite in memory, or PostgreSQL at `postgresUrl`), Docker sandboxes,
 * the scripted model behind the real Anthropic SDK, and a worker.
 */
export async function startHarness({
  temporal,
  script,
  worker: startWorkerNow = true,
  postgresUrl,
  storeDriver,
  mcp,
  credentials,
  files,
  heartbeatEveryMs = 200,
  resolveEgressHost,
  warmPoolSize,
  graderModel,
  apiStores,
  webhookRetry,
  workLeaseTtlSeconds,
  model: modelOptions = {},
  context = {},
  telemetry,
}: {
  temporal: DevServer;
  script: Script;
  /** The scripted model's other options (its context window, how many calls it keeps). */
  model?: Omit<ScriptedModelServerOptions, 'script'>;
  /** The workers' context settings (window, byte budget, server-side compaction). */
  context?: ContextSettings;
  worker?: boolean;
  postgresUrl?: string;
  /**
   * The store's database, one the caller opened: the API fixture's, so that sessions and the
   * API's resources share one database as in `longhaul dev`. The harness closes it with the
   * store. Default: PostgreSQL at `postgresUrl`, else a new PGlite in memory.
   */
  storeDriver?: SqlDriver;
  /** The workers' MCP gateway. */
  mcp?: McpGateway;
  /** Vault credentials for the sandboxes' egress proxies. */
  credentials?: Pick<CredentialResolver, 'environmentSecrets'>;
  /** Uploaded files' bytes, for the workers' `mountFiles`. */
  files?: FileContentReader;
  /** Activity heartbeat of the workers; tests use 200 ms so crashed calls move on quickly. */
  heartbeatEveryMs?: number;
  /** How the sandboxes' egress proxies resolve host names (tests map example names to local servers). */
  resolveEgressHost?: ResolveHost;
  /** Containers the sandbox driver keeps started ahead of sessions (`warmUp` fills them). Default 0. */
  warmPoolSize?: number;
  /** The workers' outcome grader model (default: the agent's). */
  graderModel?: string;
  /** The API's stores: with them the harness has a deployment service and its workers run deployment runs. */
  apiStores?: ApiStores;
  /** How webhook deliveries retry (tests shorten the hour the default takes to give up). */
  webhookRetry?: WebhookRetry;
  /** Lease of a self-hosted environment's work item (tests shorten the 90 s default so a dead worker's item comes back soon). */
  workLeaseTtlSeconds?: number;
  /** Started tracing: the client, the workers and the bundle join it (the test owns its shutdown). Default: none. */
  telemetry?: Telemetry | undefined;
}): Promise<Harness> {
  const taskQueue = `test-${process.pid}-${++queueCounter}`;
  const dataDir = mkdtempSync('/tmp/longhaul-test-');
  const store = await SessionStore.open(storeDriver ?? (postgresUrl ? await openPostgresDriver({ url: postgresUrl }) : await openPgliteDriver()), {
    ...(workLeaseTtlSeconds !== undefined ? { work: { leaseTtlSeconds: workLeaseTtlSeconds } } : {}),
  });
  const model = await ScriptedModelServer.start({ ...modelOptions, script });
  const sandboxes = new DockerSandboxDriver({ dataDir: `${dataDir}/sandboxes`, ...(resolveEgressHost ? { resolveEgressHost } : {}), ...(warmPoolSize ? { warmPoolSize } : {}) });
  // As the CLI's commands: the client on the Temporal core's connection (workers come and go on their own).
  const clientConnection = await NativeConnection.connect({ address: temporal.address });
  const client = new Client({ connection: clientConnection, interceptors: { workflow: telemetry?.workflowClientInterceptors ?? [] } });
  const longhaul = new Longhaul({ client, store, taskQueue });
  const webhooks = apiStores ? new WebhookPublisher({ client, taskQueue, store: apiStores.webhooks, storeId: store.storeId, retry: webhookRetry }) : undefined;
  const deployments = apiStores ? createDeploymentService({ client, taskQueue, longhaul, store, stores: apiStores, webhooks }) : undefined;
  const dreaming = apiStores ? dreamingFor({ client, taskQueue, longhaul, store, stores: apiStores }) : undefined;
  const workers: { stop(): Promise<void> }[] = [];
  const sessionsCreated: string[] = [];

  const startWorker = async () => {
    const connection = await NativeConnection.connect({ address: temporal.address });
    const worker = await createLonghaulWorker({
      connection,
      taskQueue,
      store,
      sandboxes,
      anthropic: new Anthropic({ baseURL: model.url, apiKey: 'test-key' }),
      workflowBundle: await workflowBundle({ telemetry }),
      telemetry,
      heartbeatEveryMs,
      ...(mcp ? { mcp } : {}),
      ...(credentials ? { credentials } : {}),
      // The API's stores, when given, are where uploaded files (and dreams' transcripts) are.
      ...(files || apiStores ? { files: files ?? apiStores!.files } : {}),
      ...(apiStores ? { memory: apiStores, skills: apiStores.skills } : {}),
      ...(dreaming ? { dreams: dreaming.worker } : {}),
      ...(graderModel ? { graderModel } : {}),
      ...context,
      deployments,
      webhooks,
      // Tests end by terminating their sessions; their calls then stop within a heartbeat.
      shutdownGraceTimeMs: 2000,
    });
    const running = worker.run();
    let stopped = false;
    const handle = {
      worker,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
        await connection.close();
      },
    };
    workers.push(handle);
    return handle;
  };
  if (startWorkerNow) await startWorker();

  const originalCreate = longhaul.sessions.create;
  longhaul.sessions.create = async (options) => {
    const session = await originalCreate(options);
    sessionsCreated.push(session.id);
    return session;
  };

  return {
    longhaul,
    store,
    model,
    sandboxes,
    client,
    taskQueue,
    dataDir,
    deployments,
    dreams: dreaming?.service,
    webhooks,
    startWorker,
    async [Symbol.asyncDispose]() {
      // Schedules outlive the test in the shared Temporal server: remove them before they fire into a queue no one polls.
      if (apiStores && deployments) {
        const { data } = await apiStores.deployments.list({ limit: 1000, includeArchived: true });
        for (const deployment of data) await deployments.schedules.remove(deployment.id);
      }
      for (const id of sessionsCreated) {
        await client.workflow.getHandle(id).terminate('test over').catch(() => {});
        await sandboxes.destroy(id, { removeVolume: true }).catch(() => {});
      }
      for (const w of workers) await w.stop();
      // Removes the warm pool's containers (with `warmPoolSize`) and stops the egress proxies.
      await sandboxes.close();
      await clientConnection.close();
      await model.close();
      await store.close();
      unmountDisksUnder(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads the session's events until `until` matches one (inclusive), or fails after `timeoutMs`. */
export async function collectEvents(
  longhaul: Longhaul,
  sessionId: string,
  until: (event: SessionEvent, all: SessionEvent[]) => boolean,
  { timeoutMs = 60_000, after }: { timeoutMs?: number; after?: string } = {},
): Promise<SessionEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const seen: SessionEvent[] = [];
  try {
    for await (const event of longhaul.events.stream(sessionId, { signal: controller.signal, ...(after ? { after } : {}) })) {
      seen.push(event);
      if (until(event, seen)) return seen;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for an event; saw: ${seen.map((e) => e.type).join(', ')}`);
}

export const isIdle = (event: SessionEvent) => event.type === 'session.status_idle';

/** Asserts per-session sequence numbers are 1..n with no gap and no repeated id. */
export async function assertGaplessLog(store: SessionStore, sessionId: string): Promise<SessionEvent[]> {
  const rows = await store.listEvents(sessionId, { limit: 100_000 });
  rows.forEach((row, i) => {
    if (row.seq !== i + 1) throw new Error(`event log of ${sessionId} has a gap or repeat at position ${i + 1}: seq ${row.seq}`);
  });
  const ids = new Set(rows.map((r) => r.event.id));
  if (ids.size !== rows.length) throw new Error(`event log of ${sessionId} repeats an id`);
  return rows.map((r) => r.event);
}

/** Runs a bash command in the session's sandbox outside its log (a test looking at what the agent left behind). */
export async function bashInSandbox(harness: Pick<Harness, 'sandboxes'>, sessionId: string, command: string, { shell }: { shell?: string } = {}): Promise<string> {
  const sandbox = await harness.sandboxes.ensure({ sessionId, networking: { type: 'unrestricted' } });
  const outcome = await sandbox.runTool({ toolUseId: `check-${Date.now()}-${Math.random()}`, name: 'bash', input: { command }, ...(shell ? { shell } : {}) });
  return outcome.content.map((b) => b.text).join('');
}
