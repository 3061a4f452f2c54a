import Anthropic from '@anthropic-ai/sdk';
import { createApiApp } from '../../src/api/create-api-app.ts';
import type { ConsoleOptions } from '../../src/api/console-routes.ts';
import { serveApi, type ServedApi } from '../../src/api/serve-api.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { openPgliteDriver } from '../../src/store/pglite-driver.ts';
import { openPostgresDriver } from '../../src/store/postgres-driver.ts';
import { openApiStores, type ApiStores } from '../../src/store/open-api-stores.ts';
import { FileStore } from '../../src/store/file-store.ts';
import { QUICKSTART_TASK, type Script } from '../../src/testing/index.ts';
import type { SkillUploadLimits } from '../../src/schemas/api-skill.ts';
import type { WebhookRetry } from '../../workflows/contract.ts';
import { startHarness, type ContextSettings, type Harness } from '../support/harness.ts';
import { createVaultMcpGateway } from '../../activities/vault-mcp-gateway.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import type { ResolveHost } from '../../sandbox/index.ts';
import { CredentialResolver } from '../../src/vaults/credential-resolver.ts';
import type { Telemetry } from '../../src/telemetry/start-telemetry.ts';

export const API_KEY = 'lh-test-key-0123456789';

export type ApiFixture = {
  harness: Harness;
  stores: ApiStores;
  api: ServedApi;
  /** The official SDK pointed at the server, retries off so failures show at once. */
  client: Anthropic;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * The HTTP API on a free port, over a real harness (Temporal, store, Docker
 * sandboxes, scripted model, worker). The API's resource stores and the harness's session
 * store share one in-memory PGlite, as in `longhaul dev`; with `postgresUrl` the session
 * store is on PostgreSQL, and the resource stores too with `apiStoreUrl`.
 */
export async function startApiFixture({
  temporal,
  script,
  streamKeepaliveMs,
  files,
  skillUploadLimits,
  apiStoreUrl,
  console: consoleOptions,
  ...harnessOptions
}: {
  temporal: DevServer;
  script: Script;
  streamKeepaliveMs?: number;
  /** The harness's store on PostgreSQL (so worker processes can share it) instead of in-memory PGlite. */
  postgresUrl?: string;
  /** The API's resource stores on PostgreSQL too (default: in-memory PGlite, their own when `postgresUrl` is given). */
  apiStoreUrl?: string;
  /** Start an in-process worker (default true). */
  worker?: boolean;
  resolveEgressHost?: ResolveHost;
  /** Containers the sandbox driver keeps started ahead of sessions. Default 0. */
  warmPoolSize?: number;
  /** Options of `/v1/files` (always served; the worker mounts files from the store). */
  files?: { maxFileBytes?: number };
  /** Limits of skill uploads (`/v1/skills` is always served; the worker mounts skills from the store). */
  skillUploadLimits?: SkillUploadLimits;
  graderModel?: string;
  /** The worker's context settings (window, byte budget, server-side compaction). */
  context?: ContextSettings;
  /** How webhook deliveries retry. */
  webhookRetry?: WebhookRetry;
  /** Lease of a self-hosted environment's work item, in seconds. */
  workLeaseTtlSeconds?: number;
  /** Started tracing for the harness's client, worker and bundle (the API's spans go to the global provider it registered). */
  telemetry?: Telemetry;
  /** Serve the web console under `/console`. */
  console?: ConsoleOptions;
}): Promise<ApiFixture> {
  const driver = apiStoreUrl ? await openPostgresDriver({ url: apiStoreUrl }) : await openPgliteDriver();
  const secretBox = SecretBox.fromBase64(SecretBox.generateKey());
  const stores = await openApiStores(driver, { secretBox });
  // The in-process worker reads MCP credentials from the API's vaults, as `longhaul dev` does.
  const credentials = new CredentialResolver({ vaults: stores.vaults, box: secretBox });
  const mcp = createVaultMcpGateway({ credentials });
  // The worker reads uploaded bytes from the store as a worker on another host would: over its own
  // connection when the store is PostgreSQL, else from the API's in-memory database.
  const workerFilesDriver = harnessOptions.postgresUrl && apiStoreUrl === harnessOptions.postgresUrl ? await openPostgresDriver({ url: apiStoreUrl }) : undefined;
  const workerFiles = workerFilesDriver ? new FileStore(workerFilesDriver) : stores.files;
  // Without PostgreSQL, sessions and the API's resources share one in-memory database, as in
  // `longhaul dev` (and one PGlite start, about 1.5 s of CPU, fewer); the harness closes it.
  const shared = !apiStoreUrl && !harnessOptions.postgresUrl;
  const harness = await startHarness({ temporal, script, mcp, credentials, files: workerFiles, apiStores: stores, ...harnessOptions, ...(shared ? { storeDriver: driver } : {}) });
  const app = createApiApp({
    longhaul: harness.longhaul,
    store: harness.store,
    ...stores,
    deploymentService: harness.deployments,
    dreamService: harness.dreams,
    webhookPublisher: harness.webhooks,
    apiKeys: [API_KEY],
    ...(streamKeepaliveMs ? { streamKeepaliveMs } : {}),
    ...(files?.maxFileBytes !== undefined ? { maxFileBytes: files.maxFileBytes } : {}),
    ...(skillUploadLimits ? { skillUploadLimits } : {}),
    ...(consoleOptions ? { console: consoleOptions } : {}),
  });
  const api = await serveApi({ app, port: 0 });
  const client = new Anthropic({ baseURL: api.url, apiKey: API_KEY, maxRetries: 0 });
  return {
    harness,
    stores,
    api,
    client,
    async [Symbol.asyncDispose]() {
      await api.close();
      // Sessions made over HTTP are not in the harness's list: end their workflows and sandboxes here.
      const { data } = await harness.store.sessions.listApiSessions({ limit: 1000, includeArchived: true });
      for (const session of data) {
        await harness.client.workflow.getHandle(session.id).terminate('test over').catch(() => {});
        await harness.sandboxes.destroy(session.id, { removeVolume: true }).catch(() => {});
      }
      await harness[Symbol.asyncDispose]();
      await mcp[Symbol.asyncDispose]();
      await workerFilesDriver?.close();
      if (!shared) await driver.close();
    },
  };
}

/**
 * One quickstart turn over HTTP with the SDK: an agent named `name`, an environment, a
 * session, the quickstart task, then polling until the session goes idle. Returns the session's id.
 */
export async function runQuickstartTurn({ client }: Pick<ApiFixture, 'client'>, name: string): Promise<string> {
  const agent = await client.beta.agents.create({ name, model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: `${name.toLowerCase()}-env`, config: { type: 'cloud', networking: { type: 'unrestricted' } } });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: QUICKSTART_TASK }] }] });
  for (;;) {
    const { data } = await client.beta.sessions.events.list(session.id, { types: ['session.status_idle'] });
    if (data.length > 0) return session.id;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
