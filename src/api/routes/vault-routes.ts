import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { PageQuery, QueryBoolean, pageCursorOf } from '../../schemas/api-common.ts';
import {
  Credential,
  CredentialCreateParams,
  CredentialDeleted,
  CredentialUpdateParams,
  CredentialValidation,
  Vault,
  VaultCreateParams,
  VaultDeleted,
  VaultUpdateParams,
} from '../../schemas/api-vault.ts';
import { VaultsUnavailableError, type VaultStore } from '../../store/vault-store.ts';
import { CredentialResolver } from '../../vaults/credential-resolver.ts';
import { validateMcpCredential } from '../../vaults/validate-credential.ts';
import { requireSecretKey, secretKeyMissing } from '../require-secret-key.ts';
import type { ApiApp } from '../api-types.ts';
import { clampLimit, cursorOf } from '../list-query.ts';
import { SECRET_KEY_RESPONSES, json, jsonBody } from '../openapi-common.ts';

export type VaultRouteDeps = {
  vaults: VaultStore;
  /** Used by `mcp_oauth_validate` for the probe and the token endpoint. Default `fetch`. */
  fetch?: typeof fetch;
};

const VaultParam = z.object({ vault_id: z.string().min(1) });
const CredentialParam = z.object({ vault_id: z.string().min(1), credential_id: z.string().min(1) });
const ListQuery = PageQuery.extend({ include_archived: QueryBoolean.optional() });
const tags = ['vaults'];

/** `client.beta.vaults` and `client.beta.vaults.credentials`. */
export function registerVaultRoutes(app: ApiApp, { vaults, fetch: fetchFn = fetch }: VaultRouteDeps): void {
  const box = vaults.secretBox;
  // Without a key nothing about vaults can work: say so on every vault route, before anything is read.
  app.use('/v1/vaults', requireSecretKey(box !== undefined, new VaultsUnavailableError().message));
  app.use('/v1/vaults/*', requireSecretKey(box !== undefined, new VaultsUnavailableError().message));
  const resolver = box ? new CredentialResolver({ vaults, box, fetch: fetchFn }) : undefined;

  app.openapi(
    createRoute({ method: 'post', path: '/v1/vaults', tags, request: { body: jsonBody(VaultCreateParams) }, responses: { 200: json(Vault, 'The new vault'), ...SECRET_KEY_RESPONSES } }),
    async (c) => c.json(await vaults.create(c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/vaults/{vault_id}', tags, request: { params: VaultParam }, responses: { 200: json(Vault, 'The vault'), ...SECRET_KEY_RESPONSES } }),
    async (c) => c.json(await vaults.retrieve(c.req.valid('param').vault_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/vaults/{vault_id}',
      tags,
      request: { params: VaultParam, body: jsonBody(VaultUpdateParams) },
      responses: { 200: json(Vault, 'The updated vault'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => c.json(await vaults.update(c.req.valid('param').vault_id, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/vaults', tags, request: { query: ListQuery }, responses: { 200: json(pageCursorOf(Vault), 'Vaults, newest first'), ...SECRET_KEY_RESPONSES } }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await vaults.list({ limit: clampLimit(query.limit), cursor: cursorOf(query.page), includeArchived: query.include_archived });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/vaults/{vault_id}/archive',
      tags,
      request: { params: VaultParam },
      responses: { 200: json(Vault, 'The archived vault; its credentials are archived and their secrets purged'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => c.json(await vaults.archive(c.req.valid('param').vault_id), 200),
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/v1/vaults/{vault_id}', tags, request: { params: VaultParam }, responses: { 200: json(VaultDeleted, 'Deleted, with its credentials'), ...SECRET_KEY_RESPONSES } }),
    async (c) => {
      const id = c.req.valid('param').vault_id;
      await vaults.delete(id);
      return c.json({ id, type: 'vault_deleted' as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/vaults/{vault_id}/credentials',
      tags,
      request: { params: VaultParam, body: jsonBody(CredentialCreateParams) },
      responses: { 200: json(Credential, 'The new credential (secrets are never returned)'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => c.json(await vaults.createCredential(c.req.valid('param').vault_id, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/vaults/{vault_id}/credentials/{credential_id}', tags, request: { params: CredentialParam }, responses: { 200: json(Credential, 'The credential'), ...SECRET_KEY_RESPONSES } }),
    async (c) => {
      const { vault_id, credential_id } = c.req.valid('param');
      return c.json(await vaults.retrieveCredential(vault_id, credential_id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/vaults/{vault_id}/credentials/{credential_id}',
      tags,
      request: { params: CredentialParam, body: jsonBody(CredentialUpdateParams) },
      responses: { 200: json(Credential, 'The updated credential'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => {
      const { vault_id, credential_id } = c.req.valid('param');
      return c.json(await vaults.updateCredential(vault_id, credential_id, c.req.valid('json')), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/vaults/{vault_id}/credentials',
      tags,
      request: { params: VaultParam, query: ListQuery },
      responses: { 200: json(pageCursorOf(Credential), 'Credentials, newest first'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const page = await vaults.listCredentials(c.req.valid('param').vault_id, { limit: clampLimit(query.limit), cursor: cursorOf(query.page), includeArchived: query.include_archived });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/vaults/{vault_id}/credentials/{credential_id}/archive',
      tags,
      request: { params: CredentialParam },
      responses: { 200: json(Credential, 'The archived credential; its secrets are purged'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => {
      const { vault_id, credential_id } = c.req.valid('param');
      return c.json(await vaults.archiveCredential(vault_id, credential_id), 200);
    },
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/v1/vaults/{vault_id}/credentials/{credential_id}', tags, request: { params: CredentialParam }, responses: { 200: json(CredentialDeleted, 'Deleted'), ...SECRET_KEY_RESPONSES } }),
    async (c) => {
      const { vault_id, credential_id } = c.req.valid('param');
      await vaults.deleteCredential(vault_id, credential_id);
      return c.json({ id: credential_id, type: 'vault_credential_deleted' as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/vaults/{vault_id}/credentials/{credential_id}/mcp_oauth_validate',
      tags,
      request: { params: CredentialParam },
      responses: { 200: json(CredentialValidation, 'What probing the MCP server (and refreshing, if it refused) found'), ...SECRET_KEY_RESPONSES },
    }),
    async (c) => {
      const { vault_id, credential_id } = c.req.valid('param');
      if (!resolver) throw secretKeyMissing(new VaultsUnavailableError().message);
      return c.json(await validateMcpCredential({ vaults, resolver, vaultId: vault_id, credentialId: credential_id, fetch: fetchFn }), 200);
    },
  );
}
