import { z } from 'zod';
import { Metadata, MetadataPatch, Timestamp } from './api-common.ts';

/**
 * Vaults and their credentials (`client.beta.vaults`, `client.beta.vaults.credentials`).
 * Secret fields (`token`, `access_token`, `refresh_token`, `client_secret`,
 * `secret_value`) appear only in params: no response schema has a place for them.
 *
 * In update params, a `null` secret or setting leaves the stored one as it is;
 * `display_name: null` and `expires_at: null` clear those fields.
 */

const DisplayName = z.string().min(1).max(255);
const Secret = z.string().min(1).max(16_384);
const HttpUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2048);
const FutureTimestamp = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 timestamp' }).refine((t) => Number.isNaN(Date.parse(t)) || Date.parse(t) > Date.now(), 'must be in the future');

// ── Vaults ───────────────────────────────────────────────────────────────────

/** Body of `POST /v1/vaults`. */
export const VaultCreateParams = z.object({ display_name: DisplayName, metadata: Metadata.optional() });
export type VaultCreateParams = z.infer<typeof VaultCreateParams>;

/** Body of `POST /v1/vaults/{vault_id}`. */
export const VaultUpdateParams = z.object({ display_name: DisplayName.nullish(), metadata: MetadataPatch.nullish() });
export type VaultUpdateParams = z.infer<typeof VaultUpdateParams>;

/** `BetaManagedAgentsVault`. */
export const Vault = z.object({
  type: z.literal('vault'),
  id: z.string(),
  display_name: z.string(),
  metadata: z.record(z.string(), z.string()),
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Vault = z.infer<typeof Vault>;

export const VaultDeleted = z.object({ id: z.string(), type: z.literal('vault_deleted') });

// ── Credential auth: what is sent ────────────────────────────────────────────

const TokenEndpointAuthNone = z.object({ type: z.literal('none') });
const TokenEndpointAuthBasicParam = z.object({ type: z.literal('client_secret_basic'), client_secret: Secret });
const TokenEndpointAuthPostParam = z.object({ type: z.literal('client_secret_post'), client_secret: Secret });

export const McpOAuthRefreshParams = z.object({
  client_id: z.string().min(1).max(1024),
  refresh_token: Secret,
  token_endpoint: HttpUrl,
  token_endpoint_auth: z.discriminatedUnion('type', [TokenEndpointAuthNone, TokenEndpointAuthBasicParam, TokenEndpointAuthPostParam]),
  resource: z.string().max(2048).nullish(),
  scope: z.string().max(2048).nullish(),
});

export const McpOAuthCreateParams = z.object({
  type: z.literal('mcp_oauth'),
  mcp_server_url: HttpUrl,
  access_token: Secret,
  expires_at: FutureTimestamp.nullish(),
  refresh: McpOAuthRefreshParams.nullish(),
});

export const StaticBearerCreateParams = z.object({ type: z.literal('static_bearer'), mcp_server_url: HttpUrl, token: Secret });

/** A bare hostname, an IPv4 address, or `*.` and a hostname: no scheme, port, path or IPv6. */
const AllowedHost = z
  .string()
  .max(253)
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'must be a hostname, an IPv4 address or a *. wildcard (no scheme, port or path)');

export const CredentialNetworkingParams = z.discriminatedUnion('type', [
  z.object({ type: z.literal('unrestricted') }),
  z.object({ type: z.literal('limited'), allowed_hosts: z.array(AllowedHost).min(1).max(16) }),
]);

const InjectionLocationParams = z.object({ body: z.boolean().optional(), header: z.boolean().optional() });

export const EnvironmentVariableCreateParams = z
  .object({
    type: z.literal('environment_variable'),
    secret_name: z.string().max(256).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name (letters, digits, _; not starting with a digit)'),
    secret_value: Secret,
    networking: CredentialNetworkingParams,
    injection_location: InjectionLocationParams.optional(),
  })
  .refine((a) => a.injection_location?.header !== false || a.injection_location.body === true, {
    message: 'at least one of header and body must be enabled',
    path: ['injection_location'],
  });

export const CredentialAuthCreateParams = z.discriminatedUnion('type', [McpOAuthCreateParams, StaticBearerCreateParams, EnvironmentVariableCreateParams]);
export type CredentialAuthCreateParams = z.infer<typeof CredentialAuthCreateParams>;

/** Body of `POST /v1/vaults/{vault_id}/credentials`. */
export const CredentialCreateParams = z.object({ auth: CredentialAuthCreateParams, display_name: z.string().max(255).nullish(), metadata: Metadata.optional() });
export type CredentialCreateParams = z.infer<typeof CredentialCreateParams>;

const TokenEndpointAuthSecretUpdate = z.object({ type: z.enum(['client_secret_basic', 'client_secret_post']), client_secret: Secret.nullish() });

export const McpOAuthUpdateParams = z.object({
  type: z.literal('mcp_oauth'),
  access_token: Secret.nullish(),
  expires_at: FutureTimestamp.nullish(),
  refresh: z.object({ refresh_token: Secret.nullish(), scope: z.string().max(2048).nullish(), token_endpoint_auth: TokenEndpointAuthSecretUpdate.optional() }).nullish(),
});

export const StaticBearerUpdateParams = z.object({ type: z.literal('static_bearer'), token: Secret.nullish() });

export const EnvironmentVariableUpdateParams = z.object({
  type: z.literal('environment_variable'),
  secret_value: Secret.nullish(),
  networking: CredentialNetworkingParams.nullish(),
  injection_location: InjectionLocationParams.optional(),
});

export const CredentialAuthUpdateParams = z.discriminatedUnion('type', [McpOAuthUpdateParams, StaticBearerUpdateParams, EnvironmentVariableUpdateParams]);
export type CredentialAuthUpdateParams = z.infer<typeof CredentialAuthUpdateParams>;

/** Body of `POST /v1/vaults/{vault_id}/credentials/{credential_id}`. */
export const CredentialUpdateParams = z.object({ auth: CredentialAuthUpdateParams.optional(), display_name: z.string().max(255).nullish(), metadata: MetadataPatch.nullish() });
export type CredentialUpdateParams = z.infer<typeof CredentialUpdateParams>;

// ── Credential auth: what is returned ────────────────────────────────────────

const TokenEndpointAuth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  z.object({ type: z.literal('client_secret_basic') }),
  z.object({ type: z.literal('client_secret_post') }),
]);

export const McpOAuthRefresh = z.object({
  client_id: z.string(),
  token_endpoint: z.string(),
  token_endpoint_auth: TokenEndpointAuth,
  resource: z.string().nullable(),
  scope: z.string().nullable(),
});
export type McpOAuthRefresh = z.infer<typeof McpOAuthRefresh>;

export const McpOAuthAuth = z.object({
  type: z.literal('mcp_oauth'),
  mcp_server_url: z.string(),
  expires_at: Timestamp.nullable(),
  refresh: McpOAuthRefresh.nullable(),
});

export const StaticBearerAuth = z.object({ type: z.literal('static_bearer'), mcp_server_url: z.string() });

export const CredentialNetworking = z.discriminatedUnion('type', [
  z.object({ type: z.literal('unrestricted') }),
  z.object({ type: z.literal('limited'), allowed_hosts: z.array(z.string()) }),
]);

export const EnvironmentVariableAuth = z.object({
  type: z.literal('environment_variable'),
  secret_name: z.string(),
  injection_location: z.object({ body: z.boolean(), header: z.boolean() }),
  networking: CredentialNetworking,
});

export const CredentialAuth = z.discriminatedUnion('type', [McpOAuthAuth, StaticBearerAuth, EnvironmentVariableAuth]);
export type CredentialAuth = z.infer<typeof CredentialAuth>;

/** `BetaManagedAgentsCredential`: never carries a secret. */
export const Credential = z.object({
  type: z.literal('vault_credential'),
  id: z.string(),
  vault_id: z.string(),
  display_name: z.string().nullable(),
  auth: CredentialAuth,
  metadata: z.record(z.string(), z.string()),
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Credential = z.infer<typeof Credential>;

export const CredentialDeleted = z.object({ id: z.string(), type: z.literal('vault_credential_deleted') });

// ── Validation ───────────────────────────────────────────────────────────────

/** An HTTP response seen while validating: body truncated and scrubbed of secrets. */
export const CapturedHttpResponse = z.object({ status_code: z.number().int(), content_type: z.string(), body: z.string(), body_truncated: z.boolean() });
export type CapturedHttpResponse = z.infer<typeof CapturedHttpResponse>;

/** `BetaManagedAgentsCredentialValidation`. */
export const CredentialValidation = z.object({
  type: z.literal('vault_credential_validation'),
  credential_id: z.string(),
  vault_id: z.string(),
  status: z.enum(['valid', 'invalid', 'unknown']),
  has_refresh_token: z.boolean(),
  mcp_probe: z.object({ method: z.string(), http_response: CapturedHttpResponse.nullable() }).nullable(),
  refresh: z.object({ status: z.enum(['succeeded', 'failed', 'connect_error', 'no_refresh_token']), http_response: CapturedHttpResponse.nullable() }).nullable(),
  validated_at: Timestamp,
});
export type CredentialValidation = z.infer<typeof CredentialValidation>;
