import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { DEPLOYMENT_RUN_WORKFLOW, type DeploymentRunInput, type DeploymentRunProgress } from '../../workflows/contract.ts';
import { PrerequisiteError } from '../api/api-errors.ts';
import { checkVaults, createApiSession, environmentFor, liveAgent, publishQuietly, type CreateSessionDeps, type EventSink } from '../api/create-api-session.ts';
import { checkRubricFiles } from '../api/session-object.ts';
import { prepareFileResources } from '../api/routes/session-resource-routes.ts';
import { NotFoundError } from '../errors.ts';
import { applyMetadataPatch } from '../schemas/api-common.ts';
import {
  PAUSING_RUN_ERRORS,
  type PausedReasonErrorType,
  type Deployment,
  type DeploymentCreateParams,
  type DeploymentRun,
  type DeploymentUpdateParams,
  type RunError,
  type StoredDeployment,
  type TriggerContext,
} from '../schemas/api-deployment.ts';
import { sessionProgress } from '../client/session-progress.ts';
import type { FileResourceParams } from '../schemas/api-file.ts';
import type { MemoryStoreResourceParams } from '../schemas/api-memory.ts';
import { prepareMemoryResources } from '../api/memory-resources.ts';
import type { UserEventParams } from '../schemas/events.ts';
import { ConflictError } from '../store/conflict-error.ts';
import type { DeploymentStore, ListDeploymentsOptions } from '../store/deployment-store.ts';
import type { ApiStores } from '../store/open-api-stores.ts';
import { deterministicId, newId } from '../store/ids.ts';
import type { Page } from '../store/page-cursor.ts';
import type { SessionStore } from '../store/session-store.ts';
import { DeploymentSchedules } from './deployment-schedules.ts';

export type DeploymentServiceOptions = {
  client: Client;
  taskQueue: string;
  store: SessionStore;
  deployments: DeploymentStore;
  /** What a run's session is created with: the API's own stores and the session client. */
  sessions: CreateSessionDeps;
  webhooks?: EventSink | undefined;
};

/**
 * Deployments: their records, their Temporal Schedules and their runs. The API serves
 * it; workers run it too (a scheduled run creates its session in an activity, so runs
 * happen while no API server is up).
 */
export class DeploymentService {
  readonly schedules: DeploymentSchedules;
  readonly #options: DeploymentServiceOptions;

  constructor(options: DeploymentServiceOptions) {
    this.#options = options;
    this.schedules = new DeploymentSchedules({ client: options.client, taskQueue: options.taskQueue, storeId: options.store.storeId });
  }

  // ── Deployments ───────────────────────────────────────────────────────────

  async create(params: DeploymentCreateParams): Promise<Deployment> {
    const now = new Date().toISOString();
    const deployment: StoredDeployment = {
      id: newId('depl'),
      type: 'deployment',
      name: params.name,
      description: params.description ?? null,
      agent: await this.#pinAgent(params.agent),
      environment_id: (await environmentFor(this.#options.sessions, params.environment_id)).id,
      initial_events: params.initial_events,
      schedule: params.schedule ?? null,
      resources: await this.#checkResources(params.resources ?? []),
      vault_ids: await checkVaults(this.#options.sessions, params.vault_ids ?? [], 'vault_ids'),
      budget: params.budget ?? null,
      metadata: params.metadata ?? {},
      status: 'active',
      paused_reason: null,
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    await checkRubricFiles(this.#options.sessions.files, deployment.initial_events, 'initial_events');
    // The Schedule first: a deployment row never exists without the Schedule it promises.
    await this.schedules.apply(deployment);
    try {
      await this.#options.deployments.create(deployment);
    } catch (error) {
      await this.schedules.remove(deployment.id);
      throw error;
    }
    await this.#publish('deployment.created', deployment.id, now);
    return this.present(deployment);
  }

  async retrieve(id: string): Promise<Deployment> {
    return this.present(await this.#options.deployments.retrieve(id));
  }

  async list(query: ListDeploymentsOptions): Promise<Page<Deployment>> {
    const page = await this.#options.deployments.list(query);
    return { ...page, data: await Promise.all(page.data.map((d) => this.present(d))) };
  }

  /** Lists replace, metadata patches, `schedule: null` makes the deployment manual-only. */
  async update(id: string, params: DeploymentUpdateParams): Promise<Deployment> {
    const current = await this.#live(id);
    const next: StoredDeployment = {
      ...current,
      ...(params.name !== undefined ? { name: params.name } : {}),
      ...(params.description !== undefined ? { description: params.description } : {}),
      ...(params.agent !== undefined ? { agent: await this.#pinAgent(params.agent) } : {}),
      ...(params.environment_id !== undefined ? { environment_id: (await environmentFor(this.#options.sessions, params.environment_id)).id } : {}),
      ...(params.initial_events !== undefined ? { initial_events: params.initial_events } : {}),
      ...(params.schedule !== undefined ? { schedule: params.schedule } : {}),
      ...(params.resources !== undefined ? { resources: await this.#checkResources(params.resources ?? []) } : {}),
      ...(params.vault_ids !== undefined ? { vault_ids: await checkVaults(this.#options.sessions, params.vault_ids ?? [], 'vault_ids') } : {}),
      ...(params.budget !== undefined ? { budget: params.budget } : {}),
      metadata: applyMetadataPatch(current.metadata, params.metadata),
      updated_at: new Date().toISOString(),
    };
    if (params.initial_events !== undefined) await checkRubricFiles(this.#options.sessions.files, next.initial_events, 'initial_events');
    return this.#change(next, 'deployment.updated');
  }

  async archive(id: string): Promise<Deployment> {
    const current = await this.#options.deployments.retrieve(id);
    if (current.archived_at !== null) return this.present(current);
    const now = new Date().toISOString();
    return this.#change({ ...current, archived_at: now, updated_at: now }, 'deployment.archived');
  }

  async pause(id: string): Promise<Deployment> {
    const current = await this.#live(id);
    if (current.status === 'paused') return this.present(current);
    return this.#change({ ...current, status: 'paused', paused_reason: { type: 'manual' }, updated_at: new Date().toISOString() }, 'deployment.paused');
  }

  async unpause(id: string): Promise<Deployment> {
    const current = await this.#live(id);
    if (current.status === 'active') return this.present(current);
    return this.#change({ ...current, status: 'active', paused_reason: null, updated_at: new Date().toISOString() }, 'deployment.unpaused');
  }

  /** The API object: the stored deployment with its Schedule's next and last runs. */
  async present(deployment: StoredDeployment): Promise<Deployment> {
    const schedule = deployment.schedule ? { ...deployment.schedule, ...(await this.schedules.times(deployment)) } : null;
    return { ...deployment, schedule };
  }

  // ── Runs ──────────────────────────────────────────────────────────────────

  /**
   * `deployments.run`: a run now, whatever the schedule (a paused deployment too: it
   * is an explicit request). Its session is created before this returns; a workflow
   * then follows it to its end, for the run's webhooks.
   */
  async run(deploymentId: string): Promise<DeploymentRun> {
    await this.#live(deploymentId);
    const run = await this.startRun({ deploymentId, runId: newId('drun') });
    if (run.session_id !== null) {
      const input: DeploymentRunInput & { sessionId: string } = { deploymentId, storeId: this.#options.store.storeId, runId: run.id, sessionId: run.session_id };
      try {
        await this.#options.client.workflow.start(DEPLOYMENT_RUN_WORKFLOW, { taskQueue: this.#options.taskQueue, workflowId: `${deploymentId}:manual-${run.id}`, args: [input] });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
    }
    return run;
  }

  /**
   * Starts a run: records it with its session, or with the error that kept the session
   * from starting (pausing the deployment when that error will recur). Idempotent: a
   * retried start finds the run, and the session, it made before.
   *
   * A scheduled run names no `runId`: it and the scheduled time come from `workflowId`,
   * which Temporal gives each fire as `<action workflow id>-<scheduled time>`.
   */
  async startRun({ deploymentId, runId, workflowId }: { deploymentId: string; runId?: string | undefined; workflowId?: string | undefined }): Promise<DeploymentRun> {
    const id = runId ?? deterministicId('drun', workflowId ?? '');
    const existing = await this.#options.deployments.findRun(id);
    if (existing) return existing;
    const deployment = await this.#options.deployments.retrieve(deploymentId);
    const trigger: TriggerContext = runId !== undefined ? { type: 'manual' } : { type: 'schedule', scheduled_at: scheduledAtOf(deploymentId, workflowId ?? '') };
    const sessionId = deterministicId('sesn', id);
    let error: RunError | null = null;
    try {
      if (!(await this.#sessionExists(sessionId))) {
        await createApiSession(this.#options.sessions, {
          id: sessionId,
          deployment_id: deployment.id,
          agent: deployment.agent,
          environment_id: deployment.environment_id,
          initial_events: deployment.initial_events as UserEventParams[],
          resources: deployment.resources,
          vault_ids: deployment.vault_ids,
          budget: deployment.budget,
          title: deployment.name,
          metadata: { deployment_id: deployment.id, deployment_run_id: id },
        });
      }
    } catch (cause) {
      const known = runErrorOf(cause);
      if (known === undefined) throw cause;
      error = known;
    }
    const { run, created } = await this.#options.deployments.createRun({
      id,
      type: 'deployment_run',
      deployment_id: deployment.id,
      agent: deployment.agent,
      session_id: error ? null : sessionId,
      error,
      trigger_context: trigger,
      created_at: new Date().toISOString(),
    });
    if (created) {
      if (run.error && PAUSING_RUN_ERRORS.has(run.error.type)) await this.#pauseOnError(deployment.id, run.error);
      // A scheduled run's activity retries until its webhooks are out; a manual run answers its request regardless.
      await this.#publish(run.error ? 'deployment_run.failed' : 'deployment_run.started', run.id, run.created_at, { strict: runId === undefined });
    }
    return run;
  }

  /** Whether a run's session is still working or has settled (idle at the end of its turn: succeeded; stopped otherwise: failed). */
  runProgress(sessionId: string): Promise<DeploymentRunProgress> {
    return sessionProgress(this.#options.store, sessionId);
  }

  async runSettled({ runId, progress }: { runId: string; progress: Exclude<DeploymentRunProgress, 'working'> }): Promise<void> {
    await this.#publish(progress === 'succeeded' ? 'deployment_run.succeeded' : 'deployment_run.failed', runId, 'settled', { strict: true });
  }

  retrieveRun(id: string): Promise<DeploymentRun> {
    return this.#options.deployments.retrieveRun(id);
  }

  listRuns(query: Parameters<DeploymentStore['listRuns']>[0]): Promise<Page<DeploymentRun>> {
    return this.#options.deployments.listRuns(query);
  }

  // ── Inside ────────────────────────────────────────────────────────────────

  async #live(id: string): Promise<StoredDeployment> {
    const deployment = await this.#options.deployments.retrieve(id);
    if (deployment.archived_at !== null) throw new ConflictError(`deployment ${id} is archived`);
    return deployment;
  }

  /** Brings the Schedule in line, then the row: a failure at Temporal changes nothing. */
  async #change(next: StoredDeployment, event: string): Promise<Deployment> {
    await this.schedules.apply(next);
    await this.#options.deployments.save(next);
    await this.#publish(event, next.id, next.updated_at);
    return this.present(next);
  }

  async #pauseOnError(id: string, error: RunError): Promise<void> {
    const current = await this.#options.deployments.retrieve(id);
    if (current.archived_at !== null || current.status === 'paused') return;
    await this.#change({ ...current, status: 'paused', paused_reason: { type: 'error', error: { type: error.type as PausedReasonErrorType } }, updated_at: new Date().toISOString() }, 'deployment.paused');
  }

  /** The agent at the version given, or at its latest: a deployment never follows later versions by itself. */
  async #pinAgent(param: DeploymentCreateParams['agent']): Promise<StoredDeployment['agent']> {
    const agent = await liveAgent(this.#options.sessions.agents, param);
    return { type: 'agent', id: agent.id, version: agent.version };
  }

  /** Checks the resources as a session would (files, memory stores) and keeps them as given, with file mount paths resolved. */
  async #checkResources(params: readonly (FileResourceParams | MemoryStoreResourceParams | { type: string })[]): Promise<StoredDeployment['resources']> {
    const files = params.filter((p): p is FileResourceParams => p.type === 'file');
    const prepared = await prepareFileResources(this.#options.sessions, files, { field: 'resources' });
    await prepareMemoryResources(this.#options.sessions, params, { field: 'resources' });
    const mounts = prepared.resources.values();
    return params.flatMap((p): StoredDeployment['resources'] => {
      if (p.type === 'file') return [{ type: 'file', file_id: (p as FileResourceParams).file_id, mount_path: mounts.next().value?.mount_path ?? null }];
      if (p.type !== 'memory_store') return [];
      const { memory_store_id, access, instructions } = p as MemoryStoreResourceParams;
      return [{ type: 'memory_store', memory_store_id, access: access ?? 'read_write', instructions: instructions ?? null }];
    });
  }

  async #sessionExists(id: string): Promise<boolean> {
    try {
      await this.#options.sessions.longhaul.sessions.record(id);
      return true;
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  /** Tells the webhooks; `strict` (inside an activity) lets a failure retry the activity, else it is only logged. */
  async #publish(type: string, id: string, at: string, { strict = false }: { strict?: boolean } = {}): Promise<void> {
    if (!strict) return publishQuietly(this.#options.webhooks, type, id, at);
    await this.#options.webhooks?.publish({ type, id }, { key: `${type}:${id}:${at}` });
  }
}

/** The run error a failed session creation becomes, or undefined when it is worth retrying (Temporal or the store briefly away). */
function runErrorOf(error: unknown): RunError | undefined {
  if (error instanceof PrerequisiteError) return { type: error.runError, message: error.message };
  if (error instanceof NotFoundError) return { type: 'unknown_error', message: error.message };
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) return { type: 'session_creation_rejected_error', message: (error as Error).message };
  return undefined;
}

/** The fire time Temporal put in the workflow id (`<deployment>:run-2026-12-03T08:00:00Z`). */
function scheduledAtOf(deploymentId: string, workflowId: string): string {
  const prefix = `${deploymentId}:run-`;
  const at = workflowId.startsWith(prefix) ? Date.parse(workflowId.slice(prefix.length)) : Number.NaN;
  return new Date(Number.isNaN(at) ? Date.now() : at).toISOString();
}

/**
 * The service on a server's or worker's stores: the same object serves the API's
 * deployment routes and the worker's run activities.
 */
export function createDeploymentService({
  client,
  taskQueue,
  longhaul,
  store,
  stores,
  webhooks,
}: {
  client: Client;
  taskQueue: string;
  longhaul: CreateSessionDeps['longhaul'];
  store: SessionStore;
  stores: Pick<ApiStores, 'agents' | 'environments' | 'files' | 'vaults' | 'deployments' | 'memories' | 'sessionMemory'> & Partial<Pick<ApiStores, 'skills'>>;
  webhooks?: EventSink | undefined;
}): DeploymentService {
  const { agents, environments, files, vaults, deployments, memories, sessionMemory, skills } = stores;
  return new DeploymentService({ client, taskQueue, store, deployments, webhooks, sessions: { longhaul, agents, environments, files, vaults, memories, sessionMemory, skills, webhooks } });
}
