import { InvalidRequestError } from '../errors.ts';
import type { CredentialValidation } from '../schemas/api-vault.ts';
import type { VaultStore } from '../store/vault-store.ts';
import { CredentialRefreshError, type CredentialResolver } from './credential-resolver.ts';
import { probeMcpServer, type McpProbeOutcome } from './mcp-probe.ts';

export type ValidateCredentialOptions = {
  vaults: VaultStore;
  /** Refreshes go through it, so they coalesce with the worker's and store their tokens. */
  resolver: CredentialResolver;
  vaultId: string;
  credentialId: string;
  fetch?: typeof fetch;
  now?: () => Date;
};

/**
 * `mcpOAuthValidate`: probes the credential's MCP server with its token. When the
 * server refuses it and the credential can refresh, refreshes (storing the new tokens)
 * and probes again with the new token.
 *
 * - `valid`: the server accepted a token.
 * - `invalid`: the server refused it and no refresh recovered it.
 * - `unknown`: the server or token endpoint could not be reached, or answered
 *   something other than acceptance or refusal.
 */
export async function validateMcpCredential({ vaults, resolver, vaultId, credentialId, fetch: fetchFn = fetch, now = () => new Date() }: ValidateCredentialOptions): Promise<CredentialValidation> {
  const opened = await vaults.openSecrets(vaultId, credentialId);
  const { credential, secrets } = opened;
  if (credential.auth.type === 'environment_variable' || secrets.type === 'environment_variable') {
    throw new InvalidRequestError(`credential ${credentialId} is an environment_variable credential: only MCP credentials (mcp_oauth, static_bearer) are validated against a server`);
  }
  const url = credential.auth.mcp_server_url;
  const hasRefreshToken = secrets.type === 'mcp_oauth' && secrets.refresh_token !== null && credential.auth.type === 'mcp_oauth' && credential.auth.refresh !== null;
  const result = (status: CredentialValidation['status'], mcpProbe: McpProbeOutcome | null, refresh: CredentialValidation['refresh']): CredentialValidation => ({
    type: 'vault_credential_validation',
    credential_id: credential.id,
    vault_id: credential.vault_id,
    status,
    has_refresh_token: hasRefreshToken,
    mcp_probe: mcpProbe === null || mcpProbe.ok ? null : { method: 'initialize', http_response: mcpProbe.httpResponse },
    refresh,
    validated_at: now().toISOString(),
  });

  const token = secrets.type === 'mcp_oauth' ? secrets.access_token : secrets.token;
  const first = await probeMcpServer({ url, token, fetch: fetchFn });
  if (first.ok) return result('valid', null, null);
  if (!first.rejected) return result('unknown', first, null);
  if (secrets.type !== 'mcp_oauth') return result('invalid', first, null);
  if (!hasRefreshToken) return result('invalid', first, { status: 'no_refresh_token', http_response: null });

  let refreshed;
  try {
    refreshed = await resolver.refresh(opened);
  } catch (error) {
    if (!(error instanceof CredentialRefreshError)) throw error;
    const refresh = { status: error.reason, http_response: error.httpResponse };
    return result(error.reason === 'connect_error' ? 'unknown' : 'invalid', first, refresh);
  }
  if (refreshed.secrets.type !== 'mcp_oauth') return result('unknown', first, { status: 'succeeded', http_response: null });
  const second = await probeMcpServer({ url, token: refreshed.secrets.access_token, fetch: fetchFn });
  return result(second.ok ? 'valid' : second.rejected ? 'invalid' : 'unknown', second.ok ? null : second, { status: 'succeeded', http_response: null });
}
