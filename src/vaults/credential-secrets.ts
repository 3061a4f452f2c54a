import { z } from 'zod';
import { InvalidRequestError } from '../errors.ts';
import type { CredentialAuth, CredentialAuthCreateParams, CredentialAuthUpdateParams } from '../schemas/api-vault.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { normalizeMcpUrl } from './mcp-url.ts';

/**
 * The write-only part of a credential: what is sealed at rest and opened only by
 * the worker (and the validation probe). Never part of a response.
 */
export const CredentialSecrets = z.discriminatedUnion('type', [
  z.object({ type: z.literal('static_bearer'), token: z.string() }),
  z.object({ type: z.literal('mcp_oauth'), access_token: z.string(), refresh_token: z.string().nullable(), client_secret: z.string().nullable() }),
  z.object({ type: z.literal('environment_variable'), secret_value: z.string() }),
]);
export type CredentialSecrets = z.infer<typeof CredentialSecrets>;

/** A credential's auth as returned, and its secrets as sealed. */
export type SplitAuth = { auth: CredentialAuth; secrets: CredentialSecrets };

/** Create params split into the returned auth (no secrets) and the secrets. */
export function splitCredentialAuth(params: CredentialAuthCreateParams): SplitAuth {
  switch (params.type) {
    case 'static_bearer':
      return { auth: { type: 'static_bearer', mcp_server_url: params.mcp_server_url }, secrets: { type: 'static_bearer', token: params.token } };
    case 'mcp_oauth': {
      const refresh = params.refresh ?? null;
      const clientSecret = refresh && refresh.token_endpoint_auth.type !== 'none' ? refresh.token_endpoint_auth.client_secret : null;
      return {
        auth: {
          type: 'mcp_oauth',
          mcp_server_url: params.mcp_server_url,
          expires_at: params.expires_at ?? null,
          refresh: refresh && {
            client_id: refresh.client_id,
            token_endpoint: refresh.token_endpoint,
            token_endpoint_auth: { type: refresh.token_endpoint_auth.type },
            resource: refresh.resource || null,
            scope: refresh.scope || null,
          },
        },
        secrets: { type: 'mcp_oauth', access_token: params.access_token, refresh_token: refresh?.refresh_token ?? null, client_secret: clientSecret },
      };
    }
    case 'environment_variable':
      return {
        auth: {
          type: 'environment_variable',
          secret_name: params.secret_name,
          // Headers are where API keys go; substituting into bodies is opt-in.
          injection_location: { header: params.injection_location?.header ?? true, body: params.injection_location?.body ?? false },
          networking: params.networking.type === 'unrestricted' ? { type: 'unrestricted' } : { type: 'limited', allowed_hosts: params.networking.allowed_hosts },
        },
        secrets: { type: 'environment_variable', secret_value: params.secret_value },
      };
  }
}

/**
 * An `auth` update applied to the stored auth and secrets. The type cannot change,
 * nor can `mcp_server_url`, `secret_name`, `client_id` or `token_endpoint`; a bad
 * update is an `InvalidRequestError` naming the field.
 */
export function applyCredentialAuthUpdate(current: SplitAuth, update: CredentialAuthUpdateParams): SplitAuth {
  const { auth, secrets } = current;
  if (update.type !== auth.type || secrets.type !== auth.type) {
    throw new InvalidRequestError(`auth.type: must be ${auth.type}, the credential's type (a credential's type cannot change)`);
  }
  if (update.type === 'static_bearer' && secrets.type === 'static_bearer') {
    return { auth, secrets: update.token != null ? { ...secrets, token: update.token } : secrets };
  }
  if (update.type === 'environment_variable' && auth.type === 'environment_variable' && secrets.type === 'environment_variable') {
    const injection = {
      header: update.injection_location?.header ?? auth.injection_location.header,
      body: update.injection_location?.body ?? auth.injection_location.body,
    };
    if (!injection.header && !injection.body) throw new InvalidRequestError('auth.injection_location: at least one of header and body must stay enabled');
    const networking = update.networking == null ? auth.networking : update.networking.type === 'unrestricted' ? { type: 'unrestricted' as const } : { type: 'limited' as const, allowed_hosts: update.networking.allowed_hosts };
    return {
      auth: { ...auth, injection_location: injection, networking },
      secrets: update.secret_value != null ? { ...secrets, secret_value: update.secret_value } : secrets,
    };
  }
  if (update.type === 'mcp_oauth' && auth.type === 'mcp_oauth' && secrets.type === 'mcp_oauth') {
    let nextAuth = { ...auth, ...(update.expires_at !== undefined ? { expires_at: update.expires_at } : {}) };
    let nextSecrets = { ...secrets, ...(update.access_token != null ? { access_token: update.access_token } : {}) };
    const refresh = update.refresh;
    if (refresh != null && (refresh.refresh_token != null || refresh.scope != null || refresh.token_endpoint_auth !== undefined)) {
      if (auth.refresh === null) throw new InvalidRequestError('auth.refresh: the credential has no refresh configuration; create a new credential to add one');
      let nextRefresh = auth.refresh;
      if (refresh.scope != null) nextRefresh = { ...nextRefresh, scope: refresh.scope === '' ? null : refresh.scope };
      if (refresh.refresh_token != null) nextSecrets = { ...nextSecrets, refresh_token: refresh.refresh_token };
      if (refresh.token_endpoint_auth !== undefined) {
        if (auth.refresh.token_endpoint_auth.type === 'none') {
          throw new InvalidRequestError('auth.refresh.token_endpoint_auth: the credential authenticates to its token endpoint with no client secret; create a new credential to add one');
        }
        // The stored type is kept whichever secret-bearing type was sent (the API documents this).
        if (refresh.token_endpoint_auth.client_secret != null) nextSecrets = { ...nextSecrets, client_secret: refresh.token_endpoint_auth.client_secret };
      }
      nextAuth = { ...nextAuth, refresh: nextRefresh };
    }
    return { auth: nextAuth, secrets: nextSecrets };
  }
  throw new InvalidRequestError(`auth.type: must be ${auth.type}, the credential's type`);
}

/**
 * What a vault may hold only one active credential for: an MCP server (compared
 * normalised) or an environment variable name.
 */
export function credentialTarget(auth: CredentialAuth): string {
  return auth.type === 'environment_variable' ? `env:${auth.secret_name}` : `mcp:${normalizeMcpUrl(auth.mcp_server_url)}`;
}

/** Seals a credential's secrets, bound to its id: a sealed blob copied to another row does not open. */
export function sealCredentialSecrets(box: SecretBox, credentialId: string, secrets: CredentialSecrets): string {
  return box.seal(JSON.stringify(secrets), { associatedData: `vault_credential:${credentialId}` });
}

export function openCredentialSecrets(box: SecretBox, credentialId: string, sealed: string): CredentialSecrets {
  return CredentialSecrets.parse(JSON.parse(box.open(sealed, { associatedData: `vault_credential:${credentialId}` })));
}
