import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../errors.ts';
import { applyMetadataPatch } from '../schemas/api-common.ts';
import type { WebhookDelivery, WebhookEndpoint, WebhookEndpointCreateParams, WebhookEndpointUpdateParams, WebhookEventType } from '../schemas/api-webhook.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { ConflictError } from './conflict-error.ts';
import { newId } from './ids.ts';
import { keysetPage } from './keyset-page.ts';
import { SqlFilters } from './sql-filters.ts';
import type { Cursor, Page } from './page-cursor.ts';
import type { SqlDriver } from './sql-driver.ts';

type EndpointRow = { id: string; record: WebhookEndpoint; sealed_secret: string; created_at: string };
type DeliveryRow = { id: string; record: WebhookDelivery; created_at: string };

/** One attempt's outcome, as the delivery activity saw it. */
export type DeliveryAttempt = { at: string; responseStatus: number | null; error: string | null; delivered: boolean };

/**
 * Webhook endpoints and their deliveries. A signing secret is stored only sealed by the
 * server's `SecretBox` (like vault credentials) and shown once, when it is made; without
 * a box the store reads but makes no endpoints.
 */
export class WebhookStore {
  readonly #db: SqlDriver;
  readonly #box: SecretBox | undefined;

  /** Expects the schema migrated (`migrateSchema` or `openApiStores` on the same driver). */
  constructor(db: SqlDriver, { secretBox }: { secretBox?: SecretBox | undefined } = {}) {
    this.#db = db;
    this.#box = secretBox;
  }

  /** Whether endpoints can be made and signed for: the server has a secret key. */
  get available(): boolean {
    return this.#box !== undefined;
  }

  async create(params: WebhookEndpointCreateParams): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const box = this.#requireBox();
    const now = new Date().toISOString();
    const endpoint: WebhookEndpoint = {
      id: newId('wep'),
      type: 'webhook_endpoint',
      url: params.url,
      event_types: params.event_types,
      description: params.description ?? null,
      status: 'enabled',
      disabled_reason: null,
      metadata: params.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    const secret = params.secret ?? `whsec_${randomBytes(32).toString('base64')}`;
    await this.#db.query('INSERT INTO webhook_endpoints (id, record, sealed_secret, created_at) VALUES ($1, $2::text::jsonb, $3, $4)', [
      endpoint.id,
      JSON.stringify(endpoint),
      box.seal(secret, { associatedData: endpoint.id }),
      now,
    ]);
    return { endpoint, secret };
  }

  async retrieve(id: string): Promise<WebhookEndpoint> {
    const rows = await this.#db.query<EndpointRow>('SELECT record FROM webhook_endpoints WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`webhook endpoint ${id} not found`);
    return rows[0].record;
  }

  async list({ limit, cursor, includeArchived = false }: { limit: number; cursor?: Cursor | undefined; includeArchived?: boolean | undefined }): Promise<Page<WebhookEndpoint>> {
    return keysetPage<EndpointRow, WebhookEndpoint>({
      db: this.#db,
      select: 'SELECT id, record, created_at FROM webhook_endpoints',
      where: includeArchived ? [] : ['archived_at IS NULL'],
      params: [],
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }

  async update(id: string, params: WebhookEndpointUpdateParams): Promise<WebhookEndpoint> {
    return this.#change(id, (current) => {
      if (current.archived_at !== null) throw new ConflictError(`webhook endpoint ${id} is archived and cannot be changed`);
      const status = params.status ?? current.status;
      return {
        ...current,
        ...(params.url !== undefined ? { url: params.url } : {}),
        ...(params.event_types !== undefined ? { event_types: params.event_types } : {}),
        ...(params.description !== undefined ? { description: params.description } : {}),
        status,
        disabled_reason: status === 'enabled' ? null : params.status === 'disabled' ? { type: 'manual' } : current.disabled_reason,
        metadata: applyMetadataPatch(current.metadata, params.metadata),
      };
    });
  }

  async archive(id: string): Promise<WebhookEndpoint> {
    return this.#change(id, (current) => (current.archived_at !== null ? current : { ...current, archived_at: new Date().toISOString() }));
  }

  /** Stops deliveries to an endpoint that kept failing, saying why. */
  async disable(id: string, message: string): Promise<WebhookEndpoint> {
    return this.#change(id, (current) => ({ ...current, status: 'disabled', disabled_reason: { type: 'delivery_failures', message } }));
  }

  /** The endpoint's signing secret, unsealed (for the delivery activity only). */
  async secretOf(id: string): Promise<string> {
    const rows = await this.#db.query<EndpointRow>('SELECT sealed_secret FROM webhook_endpoints WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`webhook endpoint ${id} not found`);
    return this.#requireBox().open(rows[0].sealed_secret, { associatedData: id });
  }

  /** Enabled, live endpoints subscribed to `type`. */
  async subscribers(type: WebhookEventType): Promise<WebhookEndpoint[]> {
    const rows = await this.#db.query<EndpointRow>(
      "SELECT record FROM webhook_endpoints WHERE archived_at IS NULL AND record->>'status' = 'enabled' AND record->'event_types' ? $1",
      [type],
    );
    return rows.map((row) => row.record);
  }

  // ── Deliveries ────────────────────────────────────────────────────────────

  /** Records a delivery about to be attempted; one already recorded (a retried publish) is kept as it is. */
  async startDelivery(delivery: Pick<WebhookDelivery, 'id' | 'endpoint_id' | 'event_id' | 'event_type'>): Promise<void> {
    const now = new Date().toISOString();
    const record: WebhookDelivery = {
      ...delivery,
      type: 'webhook_delivery',
      status: 'pending',
      attempts: 0,
      last_attempt_at: null,
      last_response_status: null,
      last_error: null,
      created_at: now,
      delivered_at: null,
    };
    await this.#db.query(
      'INSERT INTO webhook_deliveries (id, endpoint_id, event_type, status, attempts, record, created_at) VALUES ($1, $2, $3, $4, 0, $5::text::jsonb, $6) ON CONFLICT (id) DO NOTHING',
      [record.id, record.endpoint_id, record.event_type, record.status, JSON.stringify(record), now],
    );
  }

  async recordAttempt(id: string, attempt: DeliveryAttempt): Promise<void> {
    await this.#changeDelivery(id, (current) => ({
      ...current,
      attempts: current.attempts + 1,
      last_attempt_at: attempt.at,
      last_response_status: attempt.responseStatus,
      last_error: attempt.error,
      // A late attempt of a delivery given up on does not revive it; a success after a failure does.
      status: attempt.delivered ? 'delivered' : current.status,
      delivered_at: attempt.delivered ? (current.delivered_at ?? attempt.at) : current.delivered_at,
    }));
  }

  async markFailed(id: string): Promise<void> {
    await this.#changeDelivery(id, (current) => (current.status === 'delivered' ? current : { ...current, status: 'failed' }));
  }

  async retrieveDelivery(id: string): Promise<WebhookDelivery> {
    const rows = await this.#db.query<DeliveryRow>('SELECT record FROM webhook_deliveries WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`webhook delivery ${id} not found`);
    return rows[0].record;
  }

  async listDeliveries(endpointId: string, { limit, cursor, status }: { limit: number; cursor?: Cursor | undefined; status?: WebhookDelivery['status'] | undefined }): Promise<Page<WebhookDelivery>> {
    const filters = new SqlFilters().add('endpoint_id = ?', endpointId);
    if (status !== undefined) filters.add('status = ?', status);
    return keysetPage<DeliveryRow, WebhookDelivery>({
      db: this.#db,
      select: 'SELECT id, record, created_at FROM webhook_deliveries',
      ...filters,
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }

  async #change(id: string, change: (current: WebhookEndpoint) => WebhookEndpoint): Promise<WebhookEndpoint> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<EndpointRow>('SELECT record FROM webhook_endpoints WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0]) throw new NotFoundError(`webhook endpoint ${id} not found`);
      const next = change(rows[0].record);
      if (next === rows[0].record) return next;
      const updated = { ...next, updated_at: new Date().toISOString() };
      await tx.query('UPDATE webhook_endpoints SET record = $2::text::jsonb, archived_at = $3 WHERE id = $1', [id, JSON.stringify(updated), updated.archived_at]);
      return updated;
    });
  }

  async #changeDelivery(id: string, change: (current: WebhookDelivery) => WebhookDelivery): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const rows = await tx.query<DeliveryRow>('SELECT record FROM webhook_deliveries WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0]) throw new NotFoundError(`webhook delivery ${id} not found`);
      const next = change(rows[0].record);
      await tx.query('UPDATE webhook_deliveries SET record = $2::text::jsonb, status = $3, attempts = $4 WHERE id = $1', [id, JSON.stringify(next), next.status, next.attempts]);
    });
  }

  #requireBox(): SecretBox {
    if (!this.#box) throw new WebhooksUnavailableError();
    return this.#box;
  }
}

/** The server has no secret key, so signing secrets cannot be kept. */
export class WebhooksUnavailableError extends Error {
  override readonly name = 'WebhooksUnavailableError';
  constructor() {
    super('webhooks are unavailable: this server has no secret key to seal signing secrets with; set LONGHAUL_SECRET_KEY (32 random bytes, base64: `openssl rand -base64 32`)');
  }
}
