import { NotFoundError } from '../errors.ts';
import type { TimeRange } from '../schemas/api-common.ts';
import type { DeploymentRun, DeploymentStatus, StoredDeployment } from '../schemas/api-deployment.ts';
import { keysetPage } from './keyset-page.ts';
import { SqlFilters } from './sql-filters.ts';
import type { Cursor, Page } from './page-cursor.ts';
import type { SqlDriver } from './sql-driver.ts';

type DeploymentRow = { id: string; record: StoredDeployment; created_at: string };
type RunRow = { id: string; record: DeploymentRun; created_at: string };

export type ListDeploymentsOptions = {
  limit: number;
  cursor?: Cursor | undefined;
  agentId?: string | undefined;
  status?: DeploymentStatus | undefined;
  includeArchived?: boolean | undefined;
  createdAt?: TimeRange | undefined;
};

export type ListRunsOptions = {
  limit: number;
  cursor?: Cursor | undefined;
  deploymentId?: string | undefined;
  triggerType?: DeploymentRun['trigger_context']['type'] | undefined;
  hasError?: boolean | undefined;
  createdAt?: TimeRange | undefined;
};

/** Deployments and their runs. What the Temporal Schedule knows (next and last fire) is not kept here. */
export class DeploymentStore {
  readonly #db: SqlDriver;

  /** Expects the schema migrated (`migrateSchema` or `openApiStores` on the same driver). */
  constructor(db: SqlDriver) {
    this.#db = db;
  }

  async create(deployment: StoredDeployment): Promise<StoredDeployment> {
    await this.#db.query('INSERT INTO deployments (id, agent_id, status, record, created_at, archived_at) VALUES ($1, $2, $3, $4::text::jsonb, $5, $6)', [
      deployment.id,
      deployment.agent.id,
      deployment.status,
      JSON.stringify(deployment),
      deployment.created_at,
      deployment.archived_at,
    ]);
    return deployment;
  }

  async retrieve(id: string): Promise<StoredDeployment> {
    const rows = await this.#db.query<DeploymentRow>('SELECT record FROM deployments WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`deployment ${id} not found`);
    return rows[0].record;
  }

  /** Writes a changed deployment (the service has already brought its Temporal Schedule in line). */
  async save(next: StoredDeployment): Promise<StoredDeployment> {
    const rows = await this.#db.query<{ id: string }>('UPDATE deployments SET agent_id = $2, status = $3, record = $4::text::jsonb, archived_at = $5 WHERE id = $1 RETURNING id', [
      next.id,
      next.agent.id,
      next.status,
      JSON.stringify(next),
      next.archived_at,
    ]);
    if (!rows[0]) throw new NotFoundError(`deployment ${next.id} not found`);
    return next;
  }

  async list({ limit, cursor, agentId, status, includeArchived = false, createdAt }: ListDeploymentsOptions): Promise<Page<StoredDeployment>> {
    const filters = new SqlFilters().createdAt(createdAt);
    if (!includeArchived) filters.require('archived_at IS NULL');
    if (agentId !== undefined) filters.add('agent_id = ?', agentId);
    if (status !== undefined) filters.add('status = ?', status);
    return keysetPage<DeploymentRow, StoredDeployment>({
      db: this.#db,
      select: 'SELECT id, record, created_at FROM deployments',
      ...filters,
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }

  // ── Runs ──────────────────────────────────────────────────────────────────

  /** Records a run; a run id already recorded (a retried start) returns the one kept. */
  async createRun(run: DeploymentRun): Promise<{ run: DeploymentRun; created: boolean }> {
    const inserted = await this.#db.query<RunRow>(
      'INSERT INTO deployment_runs (id, deployment_id, trigger_type, has_error, record, created_at) VALUES ($1, $2, $3, $4, $5::text::jsonb, $6) ON CONFLICT (id) DO NOTHING RETURNING record',
      [run.id, run.deployment_id, run.trigger_context.type, run.error !== null, JSON.stringify(run), run.created_at],
    );
    if (inserted[0]) return { run: inserted[0].record, created: true };
    return { run: await this.retrieveRun(run.id), created: false };
  }

  async findRun(id: string): Promise<DeploymentRun | undefined> {
    const rows = await this.#db.query<RunRow>('SELECT record FROM deployment_runs WHERE id = $1', [id]);
    return rows[0]?.record;
  }

  async retrieveRun(id: string): Promise<DeploymentRun> {
    const run = await this.findRun(id);
    if (!run) throw new NotFoundError(`deployment run ${id} not found`);
    return run;
  }

  async listRuns({ limit, cursor, deploymentId, triggerType, hasError, createdAt }: ListRunsOptions): Promise<Page<DeploymentRun>> {
    const filters = new SqlFilters().createdAt(createdAt);
    if (deploymentId !== undefined) filters.add('deployment_id = ?', deploymentId);
    if (triggerType !== undefined) filters.add('trigger_type = ?', triggerType);
    if (hasError !== undefined) filters.add('has_error = ?', hasError);
    return keysetPage<RunRow, DeploymentRun>({
      db: this.#db,
      select: 'SELECT id, record, created_at FROM deployment_runs',
      ...filters,
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }
}
