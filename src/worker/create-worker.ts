import Anthropic from '@anthropic-ai/sdk';
import { Worker, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { bundleLonghaulWorkflows } from './bundle-workflows.ts';
import { storeIdentityCheck } from './store-identity-check.ts';
import { createDeploymentActivities } from '../../activities/deployment-activities.ts';
import { createSessionActivities, type SessionActivityDeps } from '../../activities/session-activities.ts';
import type { DeploymentService } from '../deployments/deployment-service.ts';
import { MemorySync } from '../../activities/memory-sync.ts';
import { SkillMounts } from '../../activities/skill-mounts.ts';
import type { SkillContentReader } from '../store/skill-store.ts';
import { createDreamActivities, type DreamActivityDeps } from '../../activities/dream-activities.ts';
import type { MemoryStores } from '../store/memory-store.ts';
import type { SessionMemoryStore } from '../store/session-memory-store.ts';
import { createWebhookActivities } from '../../activities/webhook-activities.ts';
import type { WebhookPublisher } from '../webhooks/webhook-publisher.ts';
import type { WebSearchProvider } from '../../activities/web-tools.ts';
import type { McpGateway } from '../../activities/mcp-gateway.ts';
import type { CredentialResolver } from '../vaults/credential-resolver.ts';
import type { SandboxDriver } from '../../sandbox/types.ts';
import type { FileContentReader } from '../store/file-store.ts';
import type { SessionStore } from '../store/session-store.ts';

import { DEFAULT_TASK_QUEUE } from '../../workflows/contract.ts';

export { bundleLonghaulWorkflows } from './bundle-workflows.ts';

export type LonghaulWorkerOptions = {
  connection: NativeConnection;
  /** Default `default`. */
  namespace?: string;
  /** Default `longhaul`. */
  taskQueue?: string;
  store: SessionStore;
  sandboxes: SandboxDriver;
  /**
   * The model client. Default: `new Anthropic()` from `ANTHROPIC_API_KEY` /
   * `ANTHROPIC_BASE_URL`. Its retries are turned off either way: Temporal retries.
   */
  anthropic?: Anthropic;
  webSearch?: WebSearchProvider;
  /** Reaches agents' MCP servers with credentials from the session's vaults. */
  mcp?: McpGateway;
  /** Vault credentials for the sandboxes' egress proxies (`environment_variable` secrets). */
  credentials?: Pick<CredentialResolver, 'environmentSecrets'>;
  /** Uploaded files' bytes (the API's `FileStore` on the shared store), to mount sessions' file resources. */
  files?: FileContentReader;
  /**
   * Memory stores (the API's stores on the shared store): sessions' `memory_store`
   * resources are mounted at /mnt/memory and synced around each tool call. Without it
   * such sessions run without their memory.
   */
  memory?: { memories: MemoryStores; sessionMemory: SessionMemoryStore } | undefined;
  /**
   * Skills (the API's `SkillStore` on the shared store): the versions a session pinned are
   * placed read-only at /mnt/skills before its tools run. Without it such sessions run
   * without their skills' files (their prompt still names them).
   */
  skills?: SkillContentReader | undefined;
  /** Runs dreams (`dreamWorkflow`'s activities); without it a dream this worker picks up waits for one that has it. */
  dreams?: DreamActivityDeps | undefined;
  workflowBundle?: WorkflowBundle;
  /** Concurrent activities (model calls and tool calls). Default 100. */
  maxConcurrentActivities?: number;
  /** Activity heartbeat interval, which also bounds how fast an interrupt reaches a running call. Default 1000 ms. */
  heartbeatEveryMs?: number;
  /** Model the outcome grader uses; default: the session agent's own. */
  graderModel?: string | undefined;
  /** The model's context window in tokens (default 200 000); see `SessionActivityDeps`. */
  contextWindowTokens?: SessionActivityDeps['contextWindowTokens'];
  /** Bytes of transcript a request stays within (default 3 per window token); see `SessionActivityDeps`. */
  contextBudgetBytes?: SessionActivityDeps['contextBudgetBytes'];
  /** Let the endpoint compact the context itself (default: on for api.anthropic.com); see `SessionActivityDeps`. */
  serverCompaction?: SessionActivityDeps['serverCompaction'];
  /**
   * Runs deployments' scheduled runs (`deploymentRunWorkflow`'s activities). Without it
   * a run this worker picks up fails its activity and waits for a worker that has it.
   */
  deployments?: DeploymentService | undefined;
  /**
   * Outbound webhooks: the session events this worker writes are published through it,
   * and it delivers them (`webhookDeliveryWorkflow`'s activities).
   */
  webhooks?: WebhookPublisher | undefined;
  /**
   * On shutdown, how long running model and tool calls may finish before they are
   * cancelled (and retried on another worker). Default 30 000 ms.
   */
  shutdownGraceTimeMs?: number;
};

/**
 * A Temporal worker that runs Longhaul sessions: the session workflow plus its
 * activities (model calls, sandbox tools, event persistence).
 *
 * @example
 * const worker = await createLonghaulWorker({ connection, store, sandboxes });
 * await worker.run();
 */
export async function createLonghaulWorker({
  connection,
  namespace = 'default',
  taskQueue = DEFAULT_TASK_QUEUE,
  store,
  sandboxes,
  anthropic,
  webSearch,
  mcp,
  credentials,
  files,
  memory,
  skills,
  dreams,
  workflowBundle,
  maxConcurrentActivities = 100,
  heartbeatEveryMs = 1000,
  shutdownGraceTimeMs = 30_000,
  graderModel,
  contextWindowTokens,
  contextBudgetBytes,
  serverCompaction,
  deployments,
  webhooks,
}: LonghaulWorkerOptions): Promise<Worker> {
  const model = (anthropic ?? new Anthropic()).withOptions({ maxRetries: 0 });
  // Published where the events are written, inside the activity that writes them.
  if (webhooks) webhooks.observe(store);
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowBundle: workflowBundle ?? (await bundleLonghaulWorkflows()),
    activities: {
      ...createSessionActivities({
        store,
        sandboxes,
        anthropic: model,
        webSearch,
        heartbeatEveryMs,
        mcp,
        credentials,
        files,
        graderModel,
        ...(memory ? { memory: new MemorySync(memory) } : {}),
        ...(skills ? { skills: new SkillMounts({ skills, store }) } : {}),
        ...(contextWindowTokens !== undefined ? { contextWindowTokens } : {}),
        ...(contextBudgetBytes !== undefined ? { contextBudgetBytes } : {}),
        ...(serverCompaction !== undefined ? { serverCompaction } : {}),
      }),
      ...(deployments ? createDeploymentActivities(deployments) : {}),
      ...(webhooks ? createWebhookActivities({ store: webhooks.store }) : {}),
      ...(dreams ? createDreamActivities(dreams) : {}),
    },
    // The workflow half (the store id header) is in the bundle: bundleLonghaulWorkflows adds it.
    interceptors: { activity: [storeIdentityCheck({ storeId: store.storeId })] },
    maxConcurrentActivityTaskExecutions: maxConcurrentActivities,
    shutdownGraceTime: shutdownGraceTimeMs,
    // Cancellation reaches an activity on its next heartbeat; keep that short so interrupts are prompt.
    maxHeartbeatThrottleInterval: heartbeatEveryMs,
    defaultHeartbeatThrottleInterval: heartbeatEveryMs,
  });
}
