/**
 * `longhaul worker`: Longhaul's Temporal workers alone, for scaling out — as many
 * processes (and hosts) as needed, all on one task queue, one PostgreSQL store and
 * Docker for the sandboxes. No HTTP API: that is `longhaul serve`.
 */
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { DEFAULT_SANDBOX_IMAGE, DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';
import { packageRegistriesFromEnv } from '../../sandbox/index.ts';
import { contextSettingsFromEnv } from '../config/context-config.ts';
import { stepAdmissionFromEnv } from '../config/step-admission-config.ts';
import { WORKER_WARM_POOL_SIZE, graderModelFromEnv, sandboxDriverOptionsFromEnv } from '../config/sandbox-config.ts';
import { resolveDataDir } from '../config/dev-config.ts';
import { redactDatabaseUrl, resolveEngineConfig, resolveWorkerModel, type EngineConfig, type EngineFlags, type WorkerModelConfig } from '../config/server-config.ts';
import { Client } from '@temporalio/client';
import { Longhaul } from '../client/longhaul.ts';
import { createDeploymentService, type DeploymentService } from '../deployments/deployment-service.ts';
import { dreamingFor } from '../dreams/dreaming.ts';
import type { FileContentReader } from '../store/file-store.ts';
import { openApiStores } from '../store/open-api-stores.ts';
import { WebhookPublisher } from '../webhooks/webhook-publisher.ts';
import type { SessionStore } from '../store/session-store.ts';
import { createLonghaulWorker, type LonghaulWorkerOptions } from '../worker/create-worker.ts';
import { WorkerPresence } from '../worker/worker-presence.ts';
import { cachedWorkflowBundle } from '../worker/workflow-bundle-cache.ts';
import { createVaultMcpGateway } from '../../activities/vault-mcp-gateway.ts';
import { secretBoxFromEnv } from '../config/secret-key.ts';
import type { SqlDriver } from '../store/sql-driver.ts';
import { VaultStore } from '../store/vault-store.ts';
import { CredentialResolver } from '../vaults/credential-resolver.ts';
import { CleanupStack, runUntilStopped } from './cleanup-stack.ts';
import { CliError } from './cli-error.ts';
import { openEngineStore } from './open-engine-store.ts';
import { startDevModel } from './dev-model.ts';
import type { Terminal } from './output.ts';
import { checkDocker } from './preflight.ts';
import { waitForStopSignal } from './stop-signal.ts';
import { stopDevSandboxes } from './stop-dev-sandboxes.ts';
import { collectGarbageWhenIdle } from './idle-garbage-collection.ts';
import { startTelemetryFromEnv, type Telemetry } from '../telemetry/start-telemetry.ts';
import { startMetricsFromEnv } from '../telemetry/start-metrics.ts';

/** Printed once the worker polls its task queue; tests and scripts wait for it. */
export const WORKER_READY_LINE = 'longhaul worker is ready';

export type WorkerCommandFlags = EngineFlags & {
  dataDir?: string;
  scriptedModel?: boolean;
};

export async function runWorker({ flags, terminal, env = process.env }: { flags: WorkerCommandFlags; terminal: Terminal; env?: NodeJS.ProcessEnv }): Promise<number> {
  const config = resolveEngineConfig({ flags, env });
  const model = resolveWorkerModel({ scriptedModel: flags.scriptedModel, env });
  const dataDir = resolveDataDir({ flag: flags.dataDir, env });
  terminal.line(modelLine(model, env), model.kind === 'scripted' ? 'warn' : 'heading');
  installWorkerLogger(env);

  const cleanups = new CleanupStack(terminal);
  const stopRequested = waitForStopSignal(terminal);
  try {
    const { store, driver } = await openEngineStore({ databaseUrl: config.databaseUrl });
    cleanups.push('store', () => store.close());
    // Scheduled deployment runs create their sessions here, with the API's own code and stores.
    const stores = await openApiStores(driver, { secretBox: secretBoxFromEnv(env) });
    const telemetry = await startTelemetryFromEnv(env);
    // Pushed before the client and worker, so it runs after they stop: their last spans are flushed.
    if (telemetry) cleanups.push('telemetry', () => telemetry.shutdown());
    const metrics = await startMetricsFromEnv(env);
    if (metrics) cleanups.push('metrics', () => metrics.shutdown());
    const { connection, client } = await connectTemporal(config, cleanups, { telemetry });
    const longhaul = new Longhaul({ client, store, taskQueue: config.taskQueue });
    const webhooks = new WebhookPublisher({ client, taskQueue: config.taskQueue, store: stores.webhooks, storeId: store.storeId });
    const deployments = createDeploymentService({ client, taskQueue: config.taskQueue, longhaul, store, stores, webhooks });
    const dreams = dreamingFor({ client, taskQueue: config.taskQueue, longhaul, store, stores }).worker;
    const worker = await startEngineWorker({ config, connection, store, dataDir, model, env, cleanups, terminal, credentials: credentialResolverFor(driver, env), files: stores.files, memory: stores, skills: stores.skills, dreams, deployments, webhooks, telemetry });
    terminal.line(
      `${WORKER_READY_LINE}: task queue ${config.taskQueue} on Temporal ${config.temporalAddress} (namespace ${config.temporalNamespace}); ` +
        `store ${redactDatabaseUrl(config.databaseUrl)}; sandboxes in ${join(dataDir, 'sandboxes')}. SIGTERM drains it.`,
      'ok',
    );
    return await runUntilStopped({ command: 'longhaul worker', stopRequested, failed: [worker.failed], cleanups, terminal, stopping: 'draining' });
  } catch (error) {
    await cleanups.runAll();
    throw error;
  }
}

export type EngineWorker = {
  /** Settles with the reason if the worker stops on its own (it should not). */
  failed: Promise<Error>;
};

/**
 * Starts a Longhaul worker on `config`'s task queue with Docker sandboxes under
 * `<dataDir>/sandboxes` and the given model, and registers how to stop it on
 * `cleanups`: shut down (in-flight tasks finish or are handed back), then remove this
 * worker's sandbox containers (workspaces are volumes and stay). Shared by
 * `longhaul worker` and `longhaul serve --with-worker`.
 */
export async function startEngineWorker({
  config,
  connection,
  store,
  dataDir,
  model,
  env = process.env,
  cleanups,
  credentials,
  files,
  memory,
  skills,
  dreams,
  deployments,
  webhooks,
  terminal,
  telemetry,
}: {
  config: EngineConfig;
  /** The process's connection to Temporal (`connectTemporal`); the worker polls on it. */
  connection: NativeConnection;
  store: SessionStore;
  dataDir: string;
  model: WorkerModelConfig;
  env?: NodeJS.ProcessEnv;
  cleanups: CleanupStack;
  /** Vault credentials for MCP calls and sandbox egress; without it neither gets any. */
  credentials?: CredentialResolver | undefined;
  /** Uploaded files' bytes in the shared store, for sessions' file resources. */
  files: FileContentReader;
  /** Memory stores, mounted into sandboxes of sessions that attach them. */
  memory?: LonghaulWorkerOptions['memory'];
  /** Skills in the shared store, placed in sandboxes of sessions that pinned them. */
  skills?: LonghaulWorkerOptions['skills'];
  /** Runs dreams. */
  dreams?: LonghaulWorkerOptions['dreams'];
  /** Runs deployments' scheduled runs. */
  deployments?: DeploymentService | undefined;
  /** Publishes and delivers outbound webhooks. */
  webhooks?: WebhookPublisher | undefined;
  /** Started tracing: the worker's activities and workflows make spans. Default: none. */
  telemetry?: Telemetry | undefined;
  terminal: Terminal;
}): Promise<EngineWorker> {
  // A child process bundles the workflows (or finds the bundle cached) while Docker and the sandboxes start. Bundling in
  // this process kept webpack resident for its life, and made every restart (a crashed worker's too) bundle afresh under load.
  const bundling = new AbortController();
  cleanups.push('workflow bundler', async () => bundling.abort());
  // The cached bundle has no tracing interceptors; with tracing on, the worker bundles them in.
  const workflowBundle = telemetry ? undefined : cachedWorkflowBundle({ cacheDir: join(dataDir, 'cache'), signal: bundling.signal });
  // Awaited when the worker is created; a failure before then must not be an unhandled rejection.
  workflowBundle?.catch(() => {});
  const image = env['LONGHAUL_SANDBOX_IMAGE']?.trim() || DEFAULT_SANDBOX_IMAGE;
  // Longhaul removes its own containers by label and never relies on the reaper, whose image cannot be pulled offline.
  env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';
  process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= env['TESTCONTAINERS_RYUK_DISABLED'];
  await checkDocker({ image });
  const sandboxes = new DockerSandboxDriver({
    dataDir: join(dataDir, 'sandboxes'),
    image,
    packageRegistries: packageRegistriesFromEnv(env),
    // The runtime exists by now (the connection made it): the driver's notes go where the worker's logs go.
    logger: Runtime.instance().logger,
    ...sandboxDriverOptionsFromEnv(env, { warmPool: { fallback: WORKER_WARM_POOL_SIZE } }),
  });
  const presence = await WorkerPresence.announce(dataDir);
  cleanups.push('sandbox containers', async () => {
    // Other workers on this data folder run these sessions too, some mid-tool-call: leave the containers to them.
    const others = await presence.othersAlive();
    await presence.close();
    if (others === 0) return stopDevSandboxes(sandboxes);
    terminal.line(`sandbox containers left running: ${others} other worker(s) on ${dataDir} serve them`);
    await sandboxes.close();
  });
  sandboxes.warmUp();

  const modelHandle = await startDevModel({
    env: model.kind === 'scripted' ? {} : { ANTHROPIC_API_KEY: model.apiKey, ...(model.baseUrl ? { ANTHROPIC_BASE_URL: model.baseUrl } : {}) },
  });
  cleanups.push('scripted model', () => modelHandle.close());

  const mcp = createVaultMcpGateway({ credentials });
  cleanups.push('MCP connections', async () => { await mcp[Symbol.asyncDispose](); });
  const worker = await createLonghaulWorker({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    store,
    sandboxes,
    anthropic: modelHandle.anthropic,
    mcp,
    telemetry,
    ...(workflowBundle ? { workflowBundle: await workflowBundle } : {}),
    ...(credentials ? { credentials } : {}),
    files,
    memory,
    skills,
    dreams,
    deployments,
    webhooks,
    ...graderModelFromEnv(env),
    ...contextSettingsFromEnv(env),
    ...stepAdmissionFromEnv(env),
  });
  const running = worker.run();
  const idleGc = collectGarbageWhenIdle();
  cleanups.push('idle garbage collection', async () => idleGc.stop());
  cleanups.push('worker', async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
  });
  return {
    failed: running.then(
      () => new Error('the worker stopped'),
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    ),
  };
}

/**
 * The process's connection to Temporal on `config` and a client on it, closed by `cleanups`
 * after everything pushed later; a clear error when Temporal is not there. The connection is
 * the Temporal core's (a worker needs one anyway), so the client's calls run in the core's
 * threads rather than in grpc-js on the event loop the API and the activities share (with
 * 50 sessions created at once, the create call's p50 fell from 321-357 ms to 221-293 ms).
 */
export async function connectTemporal(
  config: EngineConfig,
  cleanups: CleanupStack,
  { telemetry }: { telemetry?: Telemetry | undefined } = {},
): Promise<{ connection: NativeConnection; client: Client }> {
  const connection = await reachTemporal(config, () => NativeConnection.connect({ address: config.temporalAddress }));
  cleanups.push('Temporal connection', () => connection.close());
  return { connection, client: new Client({ connection, namespace: config.temporalNamespace, interceptors: { workflow: telemetry?.workflowClientInterceptors ?? [] } }) };
}

/** A connection to Temporal, or a one-line error saying where it was looked for and how to point elsewhere. */
async function reachTemporal<T>(config: EngineConfig, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (error) {
    throw new CliError(`could not reach Temporal at ${config.temporalAddress} (${firstLine(error)}); set TEMPORAL_ADDRESS or --temporal-address`, { cause: error });
  }
}

/**
 * The worker's reader of vault credentials, when `LONGHAUL_SECRET_KEY` is set
 * (the same key `longhaul serve` seals them with).
 */
export function credentialResolverFor(driver: SqlDriver, env: NodeJS.ProcessEnv): CredentialResolver | undefined {
  const box = secretBoxFromEnv(env);
  return box ? new CredentialResolver({ vaults: new VaultStore(driver, { secretBox: box }), box }) : undefined;
}

/** First thing said, by every command that runs a worker: whether this is Claude or the scripted stand-in. */
export function modelLine(model: WorkerModelConfig, env: NodeJS.ProcessEnv = process.env): string {
  if (model.kind === 'anthropic') return `model: Claude (ANTHROPIC_API_KEY is set${model.baseUrl ? `; via ${model.baseUrl}` : ''})`;
  return `model: scripted demo model (--scripted-model${env['ANTHROPIC_API_KEY'] ? '; ANTHROPIC_API_KEY is ignored' : ''}) — not Claude`;
}

/**
 * Temporal's logs (worker, activities, workflows) as one line each on stderr, at
 * `LONGHAUL_LOG_LEVEL` (default INFO). Installed once, before any worker connection.
 */
export function installWorkerLogger(env: NodeJS.ProcessEnv = process.env): void {
  const level = (env['LONGHAUL_LOG_LEVEL']?.trim().toUpperCase() || 'INFO') as LogLevel;
  if (!['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level)) throw new CliError(`LONGHAUL_LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR; got ${level}`);
  Runtime.install({
    logger: new DefaultLogger(level, ({ level: entryLevel, message, meta, timestampNanos }) => {
      const details = meta && Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
      process.stderr.write(`${new Date(Number(timestampNanos / 1_000_000n)).toISOString()} ${entryLevel} ${message}${details}\n`);
    }),
  });
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
