import type { CapturedHttpResponse, Credential } from '../schemas/api-vault.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { SealedCredential, VaultStore } from '../store/vault-store.ts';
import { openCredentialSecrets, sealCredentialSecrets, type CredentialSecrets } from './credential-secrets.ts';
import { tryNormalizeMcpUrl } from './mcp-url.ts';
import { refreshAccessToken } from './oauth-token-refresh.ts';

/** A bearer token for one MCP server, and the credential it came from. */
export type McpAccess = { token: string; credentialId: string };

/** An `environment_variable` credential, opened, for the sandbox egress proxy. */
export type EnvironmentSecret = {
  credentialId: string;
  name: string;
  value: string;
  /** Hosts the value may be substituted on; `'any'` when the credential is unrestricted. */
  hosts: string[] | 'any';
  header: boolean;
  body: boolean;
};

/** Why a refresh failed, as `mcpOAuthValidate` reports it. */
export type RefreshFailure = 'failed' | 'connect_error' | 'no_refresh_token';

/**
 * A credential's OAuth tokens could not be refreshed. The message names the credential
 * and what the token endpoint said (its status and OAuth `error` code), never a secret.
 */
export class CredentialRefreshError extends Error {
  override readonly name = 'CredentialRefreshError';
  readonly credentialId: string;
  readonly vaultId: string;
  readonly reason: RefreshFailure;
  /** The endpoint's error response, scrubbed (when it answered). */
  readonly httpResponse: CapturedHttpResponse | null;

  constructor({ credential, reason, detail, httpResponse = null }: { credential: Pick<Credential, 'id' | 'vault_id'>; reason: RefreshFailure; detail: string; httpResponse?: CapturedHttpResponse | null }) {
    super(`credential ${credential.id} (vault ${credential.vault_id}): could not refresh its OAuth access token: ${detail}`);
    this.credentialId = credential.id;
    this.vaultId = credential.vault_id;
    this.reason = reason;
    this.httpResponse = httpResponse;
  }
}

export type CredentialResolverDeps = {
  vaults: VaultStore;
  box: SecretBox;
  fetch?: typeof fetch;
  now?: () => Date;
  /** How long before `expires_at` a token counts as expired. Default 60 s. */
  expiryMarginMs?: number;
  /** How long one process may hold a credential's refresh before another may take over. Default 30 s. */
  refreshLeaseMs?: number;
  /** Token endpoint timeout. Default 15 s. */
  refreshTimeoutMs?: number;
};

type Opened = { credential: Credential; secrets: CredentialSecrets };

/**
 * Reads vault credentials for the worker: bearer tokens for MCP servers (refreshing
 * OAuth tokens when they expire) and environment-variable secrets for the egress
 * proxy. Archived credentials and vaults are skipped.
 *
 * Refreshes of one credential are coalesced: within this process by sharing the one
 * in flight, across processes by a lease in the store, the loser waiting for the
 * winner's new token instead of spending the (often single-use) refresh token again.
 *
 * @example
 * const resolver = new CredentialResolver({ vaults: new VaultStore(driver), box });
 * const access = await resolver.mcpAccess(session.vault_ids, 'https://mcp.example.com/mcp');
 * if (access) headers.authorization = `Bearer ${access.token}`;
 */
export class CredentialResolver {
  readonly #vaults: VaultStore;
  readonly #box: SecretBox;
  readonly #fetch: typeof fetch;
  readonly #now: () => Date;
  readonly #expiryMarginMs: number;
  readonly #refreshLeaseMs: number;
  readonly #refreshTimeoutMs: number;
  readonly #inFlight = new Map<string, Promise<Opened>>();

  constructor({ vaults, box, fetch: fetchFn = fetch, now = () => new Date(), expiryMarginMs = 60_000, refreshLeaseMs = 30_000, refreshTimeoutMs = 15_000 }: CredentialResolverDeps) {
    this.#vaults = vaults;
    this.#box = box;
    this.#fetch = fetchFn;
    this.#now = now;
    this.#expiryMarginMs = expiryMarginMs;
    this.#refreshLeaseMs = refreshLeaseMs;
    this.#refreshTimeoutMs = refreshTimeoutMs;
  }

  /**
   * Bearer for an MCP server URL from the first of `vaultIds` holding a `static_bearer`
   * or `mcp_oauth` credential for it (URLs compared normalised). An `mcp_oauth` token
   * that is expired or within the margin of expiry, or any when `forceRefresh` is set
   * (the server just refused it), is refreshed and the new tokens stored sealed.
   * Undefined when no credential matches; `CredentialRefreshError` when a needed
   * refresh fails.
   */
  async mcpAccess(vaultIds: string[], mcpServerUrl: string, { forceRefresh = false }: { forceRefresh?: boolean } = {}): Promise<McpAccess | undefined> {
    const wanted = tryNormalizeMcpUrl(mcpServerUrl);
    if (wanted === undefined) return undefined;
    const match = (await this.#vaults.sealedCredentials(vaultIds)).find(
      ({ credential: { auth } }) => auth.type !== 'environment_variable' && tryNormalizeMcpUrl(auth.mcp_server_url) === wanted,
    );
    if (!match) return undefined;
    const opened = this.#open(match);
    const { credential, secrets } = opened;
    if (secrets.type === 'static_bearer') return { token: secrets.token, credentialId: credential.id };
    if (secrets.type !== 'mcp_oauth' || credential.auth.type !== 'mcp_oauth') return undefined;

    const expiresAt = credential.auth.expires_at === null ? undefined : Date.parse(credential.auth.expires_at);
    const expiring = expiresAt !== undefined && expiresAt - this.#expiryMarginMs <= this.#now().getTime();
    const canRefresh = credential.auth.refresh !== null && secrets.refresh_token !== null;
    // An expiring token with no way to refresh it is still offered: the server has the last word.
    if (!forceRefresh && !(expiring && canRefresh)) return { token: secrets.access_token, credentialId: credential.id };
    const refreshed = await this.refresh(opened);
    if (refreshed.secrets.type !== 'mcp_oauth') throw new Error(`credential ${credential.id} changed type`);
    return { token: refreshed.secrets.access_token, credentialId: credential.id };
  }

  /** Opened `environment_variable` credentials of the vaults; on a name held twice, the earlier vault wins. */
  async environmentSecrets(vaultIds: string[]): Promise<EnvironmentSecret[]> {
    const seen = new Set<string>();
    const out: EnvironmentSecret[] = [];
    for (const sealed of await this.#vaults.sealedCredentials(vaultIds)) {
      const { auth } = sealed.credential;
      if (auth.type !== 'environment_variable' || seen.has(auth.secret_name)) continue;
      const { secrets } = this.#open(sealed);
      if (secrets.type !== 'environment_variable') continue;
      seen.add(auth.secret_name);
      out.push({
        credentialId: sealed.credential.id,
        name: auth.secret_name,
        value: secrets.secret_value,
        hosts: auth.networking.type === 'unrestricted' ? 'any' : [...auth.networking.allowed_hosts],
        header: auth.injection_location.header,
        body: auth.injection_location.body,
      });
    }
    return out;
  }

  /**
   * Refreshes an `mcp_oauth` credential whose current tokens are `seen`, unless
   * someone else already replaced them, and returns the credential as stored after.
   */
  async refresh(seen: Opened): Promise<Opened> {
    const id = seen.credential.id;
    const running = this.#inFlight.get(id);
    if (running) return running;
    const started = this.#refreshOnce(seen).finally(() => this.#inFlight.delete(id));
    this.#inFlight.set(id, started);
    return started;
  }

  async #refreshOnce(seen: Opened): Promise<Opened> {
    const id = seen.credential.id;
    const seenToken = seen.secrets.type === 'mcp_oauth' ? seen.secrets.access_token : undefined;
    const replaced = (current: Opened) => current.secrets.type === 'mcp_oauth' && current.secrets.access_token !== seenToken;
    for (;;) {
      const now = this.#now();
      if (await this.#vaults.claimRefreshLease(id, { now, until: new Date(now.getTime() + this.#refreshLeaseMs) })) break;
      // Another process is refreshing: wait for its tokens rather than spend ours.
      await new Promise((r) => setTimeout(r, 100));
      const current = await this.#reload(seen.credential);
      if (replaced(current)) return current;
    }
    let leaseHeld = true;
    try {
      // Re-read under the lease: a refresh may have finished just before we took it.
      const current = await this.#reload(seen.credential);
      if (replaced(current)) return current;
      const { credential, secrets } = current;
      if (credential.auth.type !== 'mcp_oauth' || secrets.type !== 'mcp_oauth') throw new Error(`credential ${id} is not an mcp_oauth credential`);
      if (credential.auth.refresh === null || secrets.refresh_token === null) {
        throw new CredentialRefreshError({ credential, reason: 'no_refresh_token', detail: 'it has no refresh token' });
      }
      const outcome = await refreshAccessToken({
        refresh: credential.auth.refresh,
        refreshToken: secrets.refresh_token,
        clientSecret: secrets.client_secret,
        fetch: this.#fetch,
        timeoutMs: this.#refreshTimeoutMs,
      });
      if (outcome.status === 'connect_error') {
        throw new CredentialRefreshError({ credential, reason: 'connect_error', detail: `the token endpoint could not be reached (${outcome.reason})` });
      }
      if (outcome.status === 'failed') {
        const code = outcome.errorCode ? ` (${outcome.errorCode})` : '';
        throw new CredentialRefreshError({ credential, reason: 'failed', detail: `the token endpoint answered ${outcome.httpResponse.status_code}${code}`, httpResponse: outcome.httpResponse });
      }
      const now = this.#now();
      const nextSecrets: CredentialSecrets = { ...secrets, access_token: outcome.accessToken, refresh_token: outcome.refreshToken ?? secrets.refresh_token };
      const expiresAt = outcome.expiresInSeconds === undefined ? null : new Date(now.getTime() + outcome.expiresInSeconds * 1000).toISOString();
      const saved = await this.#vaults.saveRefreshedSecrets(id, { auth: { ...credential.auth, expires_at: expiresAt }, sealed: sealCredentialSecrets(this.#box, id, nextSecrets), now });
      leaseHeld = false;
      if (!saved) throw new CredentialRefreshError({ credential, reason: 'failed', detail: 'it was archived or deleted while refreshing' });
      return { credential: saved, secrets: nextSecrets };
    } finally {
      if (leaseHeld) await this.#vaults.releaseRefreshLease(id).catch(() => {});
    }
  }

  async #reload(credential: Credential): Promise<Opened> {
    const sealed = await this.#vaults.sealedCredential(credential.id);
    if (!sealed) throw new CredentialRefreshError({ credential, reason: 'failed', detail: 'it was archived or deleted' });
    return this.#open(sealed);
  }

  #open({ credential, sealed }: SealedCredential): Opened {
    return { credential, secrets: openCredentialSecrets(this.#box, credential.id, sealed) };
  }
}
