import { applyMetadataPatch } from '../schemas/api-common.ts';
import type { Credential, CredentialCreateParams, CredentialUpdateParams, Vault, VaultCreateParams, VaultUpdateParams } from '../schemas/api-vault.ts';
import { NotFoundError } from '../errors.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import {
  applyCredentialAuthUpdate,
  credentialTarget,
  openCredentialSecrets,
  sealCredentialSecrets,
  splitCredentialAuth,
  type CredentialSecrets,
} from '../vaults/credential-secrets.ts';
import { ConflictError } from './conflict-error.ts';
import { newId } from './ids.ts';
import { keysetPage } from './keyset-page.ts';
import type { Cursor, Page } from './page-cursor.ts';
import type { SqlDriver, SqlExecutor } from './sql-driver.ts';

/** Active credentials one vault may hold. */
export const MAX_ACTIVE_CREDENTIALS_PER_VAULT = 20;

type VaultRow = { id: string; record: Vault; created_at: string; archived_at: string | null };
type CredentialRow = { id: string; vault_id: string; record: Credential; sealed_secrets: string | null; created_at: string; archived_at: string | null };

/** A live credential with its secrets still sealed: what the worker side reads. */
export type SealedCredential = { credential: Credential; sealed: string };

type ListOptions = { limit: number; cursor?: Cursor | undefined; includeArchived?: boolean | undefined };

/**
 * Vaults and their credentials. Responses never hold a secret; the secret fields
 * are stored only sealed by the `SecretBox`, and archiving a credential (or its
 * vault) purges them, which is why an archived one is read-only for good.
 *
 * Without a box the store still reads, but cannot create or change credentials.
 */
export class VaultStore {
  readonly #db: SqlDriver;
  readonly #box: SecretBox | undefined;

  /** Expects the schema migrated (`migrateSchema` or `openApiStores` on the same driver). */
  constructor(db: SqlDriver, { secretBox }: { secretBox?: SecretBox | undefined } = {}) {
    this.#db = db;
    this.#box = secretBox;
  }

  /** The box credentials are sealed with; undefined when the server has no secret key. */
  get secretBox(): SecretBox | undefined {
    return this.#box;
  }

  // ── Vaults ────────────────────────────────────────────────────────────────

  async create(params: VaultCreateParams): Promise<Vault> {
    const now = new Date().toISOString();
    const vault: Vault = { type: 'vault', id: newId('vlt'), display_name: params.display_name, metadata: params.metadata ?? {}, created_at: now, updated_at: now, archived_at: null };
    await this.#db.query('INSERT INTO vaults (id, record, created_at, updated_at) VALUES ($1, $2::text::jsonb, $3, $3)', [vault.id, JSON.stringify(vault), now]);
    return vault;
  }

  async retrieve(id: string): Promise<Vault> {
    const rows = await this.#db.query<VaultRow>('SELECT record FROM vaults WHERE id = $1', [id]);
    if (!rows[0]) throw vaultNotFound(id);
    return rows[0].record;
  }

  async update(id: string, params: VaultUpdateParams): Promise<Vault> {
    return this.#db.transaction(async (tx) => {
      const current = await lockVault(tx, id);
      if (current.archived_at !== null) throw new ConflictError(`vault ${id} is archived and cannot be changed`);
      const now = new Date().toISOString();
      const next: Vault = {
        ...current,
        ...(params.display_name != null ? { display_name: params.display_name } : {}),
        metadata: applyMetadataPatch(current.metadata, params.metadata),
        updated_at: now,
      };
      await tx.query('UPDATE vaults SET record = $2::text::jsonb, updated_at = $3 WHERE id = $1', [id, JSON.stringify(next), now]);
      return next;
    });
  }

  /** Archives the vault and every credential in it (their secrets are purged). */
  async archive(id: string): Promise<Vault> {
    return this.#db.transaction(async (tx) => {
      const current = await lockVault(tx, id);
      if (current.archived_at !== null) return current;
      const now = new Date().toISOString();
      const next: Vault = { ...current, archived_at: now, updated_at: now };
      await tx.query('UPDATE vaults SET record = $2::text::jsonb, updated_at = $3, archived_at = $3 WHERE id = $1', [id, JSON.stringify(next), now]);
      const live = await tx.query<CredentialRow>('SELECT id, record FROM vault_credentials WHERE vault_id = $1 AND archived_at IS NULL FOR UPDATE', [id]);
      for (const row of live) await archiveCredentialRow(tx, row.record, now);
      return next;
    });
  }

  /** Deletes the vault and its credentials. */
  async delete(id: string): Promise<void> {
    const rows = await this.#db.query<{ id: string }>('DELETE FROM vaults WHERE id = $1 RETURNING id', [id]);
    if (!rows[0]) throw vaultNotFound(id);
  }

  async list({ limit, cursor, includeArchived = false }: ListOptions): Promise<Page<Vault>> {
    return keysetPage<VaultRow, Vault>({
      db: this.#db,
      select: 'SELECT id, record, created_at, archived_at FROM vaults',
      where: includeArchived ? [] : ['archived_at IS NULL'],
      params: [],
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }

  // ── Credentials ───────────────────────────────────────────────────────────

  async createCredential(vaultId: string, params: CredentialCreateParams): Promise<Credential> {
    const box = this.#requireBox();
    const { auth, secrets } = splitCredentialAuth(params.auth);
    const target = credentialTarget(auth);
    return this.#db.transaction(async (tx) => {
      // Creates in one vault serialise on its row, so the checks below cannot race.
      const vault = await lockVault(tx, vaultId);
      if (vault.archived_at !== null) throw new ConflictError(`vault ${vaultId} is archived: it takes no new credentials`);
      const clash = await tx.query<{ id: string }>('SELECT id FROM vault_credentials WHERE vault_id = $1 AND target = $2 AND archived_at IS NULL', [vaultId, target]);
      if (clash[0]) {
        const what = auth.type === 'environment_variable' ? `environment variable ${auth.secret_name}` : `MCP server ${auth.mcp_server_url}`;
        throw new ConflictError(`vault ${vaultId} already holds credential ${clash[0].id} for ${what}; archive or delete it first`);
      }
      const [{ n } = { n: 0 }] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM vault_credentials WHERE vault_id = $1 AND archived_at IS NULL', [vaultId]);
      if (n >= MAX_ACTIVE_CREDENTIALS_PER_VAULT) throw new ConflictError(`vault ${vaultId} already holds ${MAX_ACTIVE_CREDENTIALS_PER_VAULT} active credentials, the most it may`);
      const now = new Date().toISOString();
      const credential: Credential = {
        type: 'vault_credential',
        id: newId('vcrd'),
        vault_id: vaultId,
        display_name: params.display_name || null,
        auth,
        metadata: params.metadata ?? {},
        created_at: now,
        updated_at: now,
        archived_at: null,
      };
      await tx.query(
        'INSERT INTO vault_credentials (id, vault_id, record, sealed_secrets, target, created_at, updated_at) VALUES ($1, $2, $3::text::jsonb, $4, $5, $6, $6)',
        [credential.id, vaultId, JSON.stringify(credential), sealCredentialSecrets(box, credential.id, secrets), target, now],
      );
      return credential;
    });
  }

  async retrieveCredential(vaultId: string, id: string): Promise<Credential> {
    const rows = await this.#db.query<CredentialRow>('SELECT record FROM vault_credentials WHERE id = $1 AND vault_id = $2', [id, vaultId]);
    if (!rows[0]) throw await this.#credentialNotFound(vaultId, id);
    return rows[0].record;
  }

  async updateCredential(vaultId: string, id: string, params: CredentialUpdateParams): Promise<Credential> {
    const box = this.#requireBox();
    return this.#db.transaction(async (tx) => {
      const row = await this.#lockCredential(tx, vaultId, id);
      const current = row.record;
      if (current.archived_at !== null || row.sealed_secrets === null) throw new ConflictError(`credential ${id} is archived and cannot be changed`);
      let { auth } = current;
      let sealed = row.sealed_secrets;
      if (params.auth) {
        const next = applyCredentialAuthUpdate({ auth, secrets: openCredentialSecrets(box, id, row.sealed_secrets) }, params.auth);
        auth = next.auth;
        sealed = sealCredentialSecrets(box, id, next.secrets);
      }
      const now = new Date().toISOString();
      const next: Credential = {
        ...current,
        auth,
        ...(params.display_name !== undefined ? { display_name: params.display_name || null } : {}),
        metadata: applyMetadataPatch(current.metadata, params.metadata),
        updated_at: now,
      };
      await tx.query('UPDATE vault_credentials SET record = $2::text::jsonb, sealed_secrets = $3, updated_at = $4 WHERE id = $1', [id, JSON.stringify(next), sealed, now]);
      return next;
    });
  }

  /** Archives the credential and purges its secrets. */
  async archiveCredential(vaultId: string, id: string): Promise<Credential> {
    return this.#db.transaction(async (tx) => {
      const row = await this.#lockCredential(tx, vaultId, id);
      if (row.record.archived_at !== null) return row.record;
      return archiveCredentialRow(tx, row.record, new Date().toISOString());
    });
  }

  async deleteCredential(vaultId: string, id: string): Promise<void> {
    const rows = await this.#db.query<{ id: string }>('DELETE FROM vault_credentials WHERE id = $1 AND vault_id = $2 RETURNING id', [id, vaultId]);
    if (!rows[0]) throw await this.#credentialNotFound(vaultId, id);
  }

  async listCredentials(vaultId: string, { limit, cursor, includeArchived = false }: ListOptions): Promise<Page<Credential>> {
    await this.retrieve(vaultId);
    return keysetPage<CredentialRow, Credential>({
      db: this.#db,
      select: 'SELECT id, record, created_at, archived_at FROM vault_credentials',
      where: ['vault_id = $1', ...(includeArchived ? [] : ['archived_at IS NULL'])],
      params: [vaultId],
      order: 'desc',
      limit,
      cursor,
      toItem: (row) => row.record,
    });
  }

  // ── Sealed access, for the worker ─────────────────────────────────────────

  /**
   * Live credentials of live vaults among `vaultIds`, in the order of `vaultIds`: the order
   * in which a match wins. Within a vault oldest first (to the millisecond, then by id); no
   * two live credentials of one vault match the same target, so that order decides nothing.
   * Unknown ids are skipped.
   */
  async sealedCredentials(vaultIds: readonly string[]): Promise<SealedCredential[]> {
    if (vaultIds.length === 0) return [];
    const rows = await this.#db.query<CredentialRow>(
      `SELECT c.id, c.vault_id, c.record, c.sealed_secrets, c.created_at FROM vault_credentials c JOIN vaults v ON v.id = c.vault_id
        WHERE c.vault_id = ANY($1::text[]) AND c.archived_at IS NULL AND v.archived_at IS NULL AND c.sealed_secrets IS NOT NULL
        ORDER BY c.created_at, c.id`,
      [vaultIds],
    );
    const rank = (vaultId: string) => vaultIds.indexOf(vaultId);
    return rows
      .sort((a, b) => rank(a.vault_id) - rank(b.vault_id))
      .map((row) => ({ credential: row.record, sealed: row.sealed_secrets! }));
  }

  /** One credential if it and its vault are live; undefined otherwise. */
  async sealedCredential(id: string): Promise<SealedCredential | undefined> {
    const rows = await this.#db.query<CredentialRow>(
      `SELECT c.record, c.sealed_secrets FROM vault_credentials c JOIN vaults v ON v.id = c.vault_id
        WHERE c.id = $1 AND c.archived_at IS NULL AND v.archived_at IS NULL AND c.sealed_secrets IS NOT NULL`,
      [id],
    );
    const row = rows[0];
    return row ? { credential: row.record, sealed: row.sealed_secrets! } : undefined;
  }

  /**
   * Stores a credential's refreshed secrets and auth (new `expires_at`) and gives up
   * the refresh lease. False when the credential was archived or deleted meanwhile.
   */
  async saveRefreshedSecrets(id: string, { auth, sealed, now }: { auth: Credential['auth']; sealed: string; now: Date }): Promise<Credential | undefined> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query<CredentialRow>('SELECT record FROM vault_credentials WHERE id = $1 AND archived_at IS NULL FOR UPDATE', [id]);
      const current = rows[0]?.record;
      if (!current) return undefined;
      const next: Credential = { ...current, auth, updated_at: now.toISOString() };
      await tx.query('UPDATE vault_credentials SET record = $2::text::jsonb, sealed_secrets = $3, updated_at = $4, refresh_lease_until = NULL WHERE id = $1', [
        id,
        JSON.stringify(next),
        sealed,
        next.updated_at,
      ]);
      return next;
    });
  }

  /**
   * Takes the right to refresh a credential's tokens until `until`, unless another
   * process holds it. Refresh tokens are often single-use: two processes refreshing
   * with the same one would see the second fail, or the whole grant revoked.
   */
  async claimRefreshLease(id: string, { now, until }: { now: Date; until: Date }): Promise<boolean> {
    const rows = await this.#db.query<{ id: string }>(
      'UPDATE vault_credentials SET refresh_lease_until = $2 WHERE id = $1 AND (refresh_lease_until IS NULL OR refresh_lease_until < $3) RETURNING id',
      [id, until.toISOString(), now.toISOString()],
    );
    return rows.length > 0;
  }

  async releaseRefreshLease(id: string): Promise<void> {
    await this.#db.query('UPDATE vault_credentials SET refresh_lease_until = NULL WHERE id = $1', [id]);
  }

  /** A live credential's secrets opened (for the validation probe). */
  async openSecrets(vaultId: string, id: string): Promise<{ credential: Credential; secrets: CredentialSecrets }> {
    const box = this.#requireBox();
    const rows = await this.#db.query<CredentialRow>('SELECT record, sealed_secrets FROM vault_credentials WHERE id = $1 AND vault_id = $2', [id, vaultId]);
    const row = rows[0];
    if (!row) throw await this.#credentialNotFound(vaultId, id);
    if (row.record.archived_at !== null || row.sealed_secrets === null) throw new ConflictError(`credential ${id} is archived: its secrets are gone`);
    return { credential: row.record, secrets: openCredentialSecrets(box, id, row.sealed_secrets) };
  }

  #requireBox(): SecretBox {
    if (!this.#box) throw new VaultsUnavailableError();
    return this.#box;
  }

  async #lockCredential(tx: SqlExecutor, vaultId: string, id: string): Promise<CredentialRow> {
    const rows = await tx.query<CredentialRow>('SELECT id, record, sealed_secrets FROM vault_credentials WHERE id = $1 AND vault_id = $2 FOR UPDATE', [id, vaultId]);
    if (!rows[0]) throw await this.#credentialNotFound(vaultId, id, tx);
    return rows[0];
  }

  /** Says which is missing: the vault or the credential in it. */
  async #credentialNotFound(vaultId: string, id: string, db: SqlExecutor = this.#db): Promise<NotFoundError> {
    const vault = await db.query('SELECT 1 FROM vaults WHERE id = $1', [vaultId]);
    return vault.length === 0 ? vaultNotFound(vaultId) : new NotFoundError(`credential ${id} not found in vault ${vaultId}`);
  }
}

/** The server has no secret key, so credentials cannot be sealed or opened. */
export class VaultsUnavailableError extends Error {
  override readonly name = 'VaultsUnavailableError';
  constructor() {
    super('vaults are unavailable: this server has no secret key to seal credentials with; set LONGHAUL_SECRET_KEY (32 random bytes, base64: `openssl rand -base64 32`)');
  }
}

function vaultNotFound(id: string): NotFoundError {
  return new NotFoundError(`vault ${id} not found`);
}

async function lockVault(tx: SqlExecutor, id: string): Promise<Vault> {
  const rows = await tx.query<VaultRow>('SELECT record FROM vaults WHERE id = $1 FOR UPDATE', [id]);
  if (!rows[0]) throw vaultNotFound(id);
  return rows[0].record;
}

async function archiveCredentialRow(tx: SqlExecutor, current: Credential, now: string): Promise<Credential> {
  const next: Credential = { ...current, archived_at: now, updated_at: now };
  await tx.query('UPDATE vault_credentials SET record = $2::text::jsonb, sealed_secrets = NULL, refresh_lease_until = NULL, updated_at = $3, archived_at = $3 WHERE id = $1', [
    current.id,
    JSON.stringify(next),
    now,
  ]);
  return next;
}
