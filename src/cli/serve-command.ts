/**
 * `longhaul serve`: the Managed Agents HTTP API alone, for production — on an
 * existing Temporal cluster and a PostgreSQL store, with API keys from the
 * environment. Sessions run on `longhaul worker` processes (or in this one with
 * `--with-worker`).
 */
import { createApiApp } from '../api/create-api-app.ts';
import { serveApi, type ServedApi } from '../api/serve-api.ts';
import { consoleBundleExists } from '../api/console-routes.ts';
import { Longhaul } from '../client/longhaul.ts';
import { resolveDataDir } from '../config/dev-config.ts';
import { redactDatabaseUrl, resolveServeConfig, resolveWorkerModel, type ServeFlags, type WorkerModelConfig } from '../config/server-config.ts';
import { SECRET_KEY_ENV, secretBoxFromEnv } from '../config/secret-key.ts';
import { openApiStores } from '../store/open-api-stores.ts';
import { CredentialResolver } from '../vaults/credential-resolver.ts';
import { CleanupStack, runUntilStopped } from './cleanup-stack.ts';
import { CliError } from './cli-error.ts';
import type { Terminal } from './output.ts';
import { waitForStopSignal } from './stop-signal.ts';
import { nonEmpty } from './run-target.ts';
import { openEngineStore } from './open-engine-store.ts';
import { connectTemporal, installWorkerLogger, modelLine, startEngineWorker, type EngineWorker } from './worker-command.ts';
import { createDeploymentService } from '../deployments/deployment-service.ts';
import { dreamingFor } from '../dreams/dreaming.ts';
import { WebhookPublisher } from '../webhooks/webhook-publisher.ts';
import { startTelemetryFromEnv } from '../telemetry/start-telemetry.ts';
import { startMetricsFromEnv } from '../telemetry/start-metrics.ts';

/** Printed once the API listens; tests and scripts wait for it. */
export const SERVE_READY_LINE = 'longhaul serve is ready';

/** Base URL of the cluster's Temporal Web UI; the console links each session's workflow there. */
export const TEMPORAL_UI_URL_ENV = 'LONGHAUL_TEMPORAL_UI_URL';

export type ServeCommandFlags = ServeFlags & {
  withWorker?: boolean;
  dataDir?: string;
  scriptedModel?: boolean;
};

export async function runServe({ flags, terminal, env = process.env }: { flags: ServeCommandFlags; terminal: Terminal; env?: NodeJS.ProcessEnv }): Promise<number> {
  const config = resolveServeConfig({ flags, env });
  if (flags.scriptedModel && !flags.withWorker) throw new CliError('--scripted-model is a worker option: add --with-worker, or pass it to `longhaul worker`', { exitCode: 2 });
  // A malformed key stops the server here; no key only disables vaults (their routes answer 503 saying why).
  const secretBox = secretBoxFromEnv(env);
  if (!secretBox) terminal.warn(`vaults disabled: ${SECRET_KEY_ENV} is not set (32 random bytes, base64)`);
  let model: WorkerModelConfig | undefined;
  if (flags.withWorker) {
    model = resolveWorkerModel({ scriptedModel: flags.scriptedModel, env });
    terminal.line(modelLine(model, env), model.kind === 'scripted' ? 'warn' : 'heading');
    installWorkerLogger(env);
  }

  const cleanups = new CleanupStack(terminal);
  const stopRequested = waitForStopSignal(terminal);
  try {
    // The session store owns the driver; the API's resource stores share it.
    const { store, driver } = await openEngineStore({ databaseUrl: config.databaseUrl });
    cleanups.push('store', () => store.close());
    const stores = await openApiStores(driver, { secretBox });

    const telemetry = await startTelemetryFromEnv(env);
    // Pushed before the client and worker, so it runs after they stop: their last spans are flushed.
    if (telemetry) cleanups.push('telemetry', () => telemetry.shutdown());
    const metrics = await startMetricsFromEnv(env);
    if (metrics) cleanups.push('metrics', () => metrics.shutdown());
    const { connection, client } = await connectTemporal(config, cleanups, { telemetry });
    const longhaul = new Longhaul({ client, store, taskQueue: config.taskQueue });
    const webhooks = new WebhookPublisher({ client, taskQueue: config.taskQueue, store: stores.webhooks, storeId: store.storeId });
    const deploymentService = createDeploymentService({ client, taskQueue: config.taskQueue, longhaul, store, stores, webhooks });
    const dreaming = dreamingFor({ client, taskQueue: config.taskQueue, longhaul, store, stores });

    let worker: EngineWorker | undefined;
    if (model) {
      const credentials = secretBox ? new CredentialResolver({ vaults: stores.vaults, box: secretBox }) : undefined;
      worker = await startEngineWorker({ config, connection, store, dataDir: resolveDataDir({ flag: flags.dataDir, env }), model, env, cleanups, terminal, credentials, files: stores.files, memory: stores, skills: stores.skills, dreams: dreaming.worker, deployments: deploymentService, webhooks, telemetry });
    }

    const app = createApiApp({
      longhaul,
      store,
      ...stores,
      deploymentService,
      dreamService: dreaming.service,
      webhookPublisher: webhooks,
      apiKeys: config.apiKeys,
      console: { temporalUiUrl: nonEmpty(env[TEMPORAL_UI_URL_ENV]), temporalNamespace: config.temporalNamespace },
      onInternalError: (error, { method, path, requestId }) =>
        terminal.error(`api: ${method} ${path} (${requestId}) failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
    });
    const api = await listen(() => serveApi({ app, port: config.port, host: config.host }), config);
    // Stopped first: no new request reaches a store or client that is closing.
    cleanups.push('HTTP API', () => api.close());

    if (!consoleBundleExists()) terminal.warn('web console not built: /console answers 503 until `npm run build:console` (or `npm run setup`) has run');
    const keys = config.apiKeys.length === 1 ? '1 API key' : `${config.apiKeys.length} API keys`;
    terminal.line(
      `${SERVE_READY_LINE}: ${api.url} (${keys}; Temporal ${config.temporalAddress}, namespace ${config.temporalNamespace}, task queue ${config.taskQueue}; ` +
        `store ${redactDatabaseUrl(config.databaseUrl)}; ${worker ? 'with a worker in this process' : 'no worker here: run `longhaul worker`'})`,
      'ok',
    );

    return await runUntilStopped({ command: 'longhaul serve', stopRequested, failed: worker ? [worker.failed] : [], cleanups, terminal });
  } catch (error) {
    await cleanups.runAll();
    throw error;
  }
}

async function listen(start: () => Promise<ServedApi>, { port, host }: { port: number; host: string }): Promise<ServedApi> {
  try {
    return await start();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new CliError(`port ${port} on ${host} is in use; pick another with --port or LONGHAUL_PORT`, { cause: error });
    }
    throw error;
  }
}
