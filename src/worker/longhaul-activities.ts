import Anthropic from '@anthropic-ai/sdk';
import { createDeploymentActivities } from '../../activities/deployment-activities.ts';
import { createDreamActivities, type DreamActivityDeps } from '../../activities/dream-activities.ts';
import type { McpGateway } from '../../activities/mcp-gateway.ts';
import { MemorySync } from '../../activities/memory-sync.ts';
import { createSessionActivities, type SessionActivityDeps } from '../../activities/session-activities.ts';
import { SkillMounts } from '../../activities/skill-mounts.ts';
import { createStepSessionActivities } from '../../activities/step-session-activities.ts';
import type { WebSearchProvider } from '../../activities/web-tools.ts';
import { createWebhookActivities } from '../../activities/webhook-activities.ts';
import type { SandboxDriver } from '../../sandbox/types.ts';
import type { DeploymentService } from '../deployments/deployment-service.ts';
import { rootContextFetch } from '../net/root-context-fetch.ts';
import type { FileContentReader } from '../store/file-store.ts';
import type { MemoryStores } from '../store/memory-store.ts';
import type { SessionMemoryStore } from '../store/session-memory-store.ts';
import type { SessionStore } from '../store/session-store.ts';
import type { SkillContentReader } from '../store/skill-store.ts';
import type { CredentialResolver } from '../vaults/credential-resolver.ts';
import type { WebhookPublisher } from '../webhooks/webhook-publisher.ts';

/** What Longhaul's activities run on: the store, the sandboxes, the model, and the optional services. */
export type LonghaulActivityOptions = {
  store: SessionStore;
  sandboxes: SandboxDriver;
  /**
   * The model client. Default: `new Anthropic()` from `ANTHROPIC_API_KEY` /
   * `ANTHROPIC_BASE_URL`. Its retries are turned off either way: Temporal retries.
   */
  anthropic?: Anthropic | undefined;
  webSearch?: WebSearchProvider | undefined;
  /** Reaches agents' MCP servers with credentials from the session's vaults. */
  mcp?: McpGateway | undefined;
  /** Vault credentials for the sandboxes' egress proxies (`environment_variable` secrets). */
  credentials?: Pick<CredentialResolver, 'environmentSecrets'> | undefined;
  /** Uploaded files' bytes (the API's `FileStore` on the shared store), to mount sessions' file resources. */
  files?: FileContentReader | undefined;
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
  /** Activity heartbeat interval, which also bounds how fast an interrupt reaches a running call. Default 1000 ms. */
  heartbeatEveryMs?: number | undefined;
  /** Model the outcome grader uses; default: the session agent's own. */
  graderModel?: string | undefined;
  /** The model's context window in tokens (default 200 000); see `SessionActivityDeps`. */
  contextWindowTokens?: SessionActivityDeps['contextWindowTokens'];
  /** Bytes of transcript a request stays within (default 3 per window token); see `SessionActivityDeps`. */
  contextBudgetBytes?: SessionActivityDeps['contextBudgetBytes'];
  /** Let the endpoint compact the context itself (default: on for api.anthropic.com); see `SessionActivityDeps`. */
  serverCompaction?: SessionActivityDeps['serverCompaction'];
  /** Turns' first steps before other sessions' later steps, or `false`; see `SessionActivityDeps`. */
  stepAdmission?: SessionActivityDeps['stepAdmission'];
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
};

/**
 * Every activity Longhaul's workflows call, built from their dependencies (nothing at
 * import time). Given `webhooks`, the events the activities write are published through it.
 *
 * @example
 * const worker = await Worker.create({ ..., activities: createLonghaulActivities({ store, sandboxes }) });
 */
export function createLonghaulActivities({
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
  heartbeatEveryMs = 1000,
  graderModel,
  contextWindowTokens,
  contextBudgetBytes,
  serverCompaction,
  stepAdmission,
  deployments,
  webhooks,
}: LonghaulActivityOptions): Record<string, (...args: never[]) => Promise<unknown>> {
  const model = (anthropic ?? new Anthropic({ fetch: rootContextFetch })).withOptions({ maxRetries: 0 });
  // Published where the events are written, inside the activity that writes them.
  if (webhooks) webhooks.observe(store);
  return {
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
      ...(stepAdmission !== undefined ? { stepAdmission } : {}),
    }),
    ...createStepSessionActivities({ store }),
    ...(deployments ? createDeploymentActivities(deployments) : {}),
    ...(webhooks ? createWebhookActivities({ store: webhooks.store }) : {}),
    ...(dreams ? createDreamActivities(dreams) : {}),
  };
}
