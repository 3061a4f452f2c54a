import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic, { BadRequestError, ConflictError, InternalServerError, NotFoundError } from '@anthropic-ai/sdk';
import type { BetaManagedAgentsCredential, BetaManagedAgentsCredentialValidation } from '@anthropic-ai/sdk/resources/beta/vaults/credentials';
import type { BetaManagedAgentsVault } from '@anthropic-ai/sdk/resources/beta/vaults/vaults';
import { Client, Connection } from '@temporalio/client';
import { createApiApp } from '../../src/api/create-api-app.ts';
import { serveApi } from '../../src/api/serve-api.ts';
import { Longhaul } from '../../src/client/longhaul.ts';
import type { Credential, CredentialValidation, Vault } from '../../src/schemas/api-vault.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { openApiStores } from '../../src/store/open-api-stores.ts';
import { openPgliteDriver } from '../../src/store/pglite-driver.ts';
import { SessionStore } from '../../src/store/session-store.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { OAuthTestServer } from '../support/oauth-test-server.ts';
import { storeBackends } from '../support/store-backends.ts';

// Our response types must be assignable to the SDK's: a drift in a field fails typechecking.
const sdkShapes = {
  vault: (v: Vault): BetaManagedAgentsVault => v,
  credential: (c: Credential): BetaManagedAgentsCredential => c,
  validation: (v: CredentialValidation): BetaManagedAgentsCredentialValidation => v,
};
void sdkShapes;

const API_KEY = 'lh-test-key-vaults-0123456789';

/** Every secret any test sends: none may come back in a response or sit in a row in the clear. */
const SECRETS = {
  bearer: 'bearer-secret-aaaa-1111',
  bearer2: 'bearer-secret-rotated-2222',
  access: 'oauth-access-bbbb-3333',
  refresh: 'oauth-refresh-cccc-4444',
  client: 'client-secret-dddd-5555',
  client2: 'client-secret-rotated-6666',
  env: 'env-value-eeee-7777',
  env2: 'env-value-rotated-8888',
};

type Served = {
  client: Anthropic;
  url: string;
  driver: SqlDriver;
  /** Every response body seen through `client`. */
  bodies: string[];
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * The HTTP API over a real store on `driver`, driven by the official SDK. Vault routes
 * never reach Temporal, so the Longhaul client's connection is lazy and stays unused.
 */
async function serve(driver: SqlDriver, { secretBox }: { secretBox?: SecretBox } = {}): Promise<Served> {
  const store = await SessionStore.open(driver);
  const stores = await openApiStores(driver, { secretBox });
  const longhaul = new Longhaul({ client: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }), store });
  const app = createApiApp({ longhaul, store, ...stores, apiKeys: [API_KEY], onInternalError: () => {} });
  const api = await serveApi({ app, port: 0 });
  const bodies: string[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    bodies.push(await response.clone().text());
    return response;
  };
  const client = new Anthropic({ baseURL: api.url, apiKey: API_KEY, maxRetries: 0, fetch: recordingFetch });
  return {
    client,
    url: api.url,
    driver,
    bodies,
    async [Symbol.asyncDispose]() {
      await api.close();
      await store.close();
    },
  };
}

function assertNoSecretIn(text: string, where: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) assert.ok(!text.includes(secret), `${where} holds the ${name} secret`);
}

const backends: Record<string, () => Promise<SqlDriver>> = storeBackends();

for (const [backend, openDriver] of Object.entries(backends)) {
  describe(backend, () => {
    let s: Served;
    before(async () => {
      s = await serve(await openDriver(), { secretBox: SecretBox.fromBase64(SecretBox.generateKey()) });
    });
    after(async () => {
      await s[Symbol.asyncDispose]();
    });

    test('vaults: create, retrieve, update with a metadata patch, list page by page, archive, delete', async () => {
      const { client } = s;
      const vault = await client.beta.vaults.create({ display_name: 'Alice', metadata: { external_user_id: 'usr_1', team: 'core' } });
      assert.match(vault.id, /^vlt_011C[0-9A-Za-z]{20}$/);
      assert.deepEqual(
        { ...vault, id: undefined, created_at: undefined, updated_at: undefined },
        { type: 'vault', id: undefined, display_name: 'Alice', metadata: { external_user_id: 'usr_1', team: 'core' }, archived_at: null, created_at: undefined, updated_at: undefined },
      );
      assert.deepEqual(await client.beta.vaults.retrieve(vault.id), vault);

      const updated = await client.beta.vaults.update(vault.id, { display_name: 'Alice B.', metadata: { team: null, plan: 'pro' } });
      assert.equal(updated.display_name, 'Alice B.');
      assert.deepEqual(updated.metadata, { external_user_id: 'usr_1', plan: 'pro' });
      assert.ok(updated.updated_at >= vault.updated_at);
      assert.equal((await client.beta.vaults.update(vault.id, { display_name: null })).display_name, 'Alice B.', 'null leaves the name');

      const made = [vault.id];
      for (let i = 0; i < 4; i++) made.push((await client.beta.vaults.create({ display_name: `v${i}` })).id);
      const firstPage = await client.beta.vaults.list({ limit: 2 });
      assert.equal(firstPage.data.length, 2);
      assert.ok(firstPage.next_page?.startsWith('page_'));
      const seen: string[] = [];
      for await (const v of client.beta.vaults.list({ limit: 2 })) seen.push(v.id);
      assert.equal(new Set(seen).size, seen.length, 'no vault twice');
      assert.deepEqual(seen.filter((id) => made.includes(id)), [...made].reverse(), 'newest first, all of them');

      const archived = await client.beta.vaults.archive(made[1]!);
      assert.ok(archived.archived_at !== null);
      assert.deepEqual(await client.beta.vaults.archive(made[1]!), archived, 'archiving again changes nothing');
      const readOnly = await client.beta.vaults.update(made[1]!, { display_name: 'nope' }).catch((e: unknown) => e);
      assert.ok(readOnly instanceof ConflictError, String(readOnly));
      assert.match(readOnly.message, /is archived/);
      const visible: string[] = [];
      for await (const v of client.beta.vaults.list()) visible.push(v.id);
      assert.ok(!visible.includes(made[1]!));
      const all: string[] = [];
      for await (const v of client.beta.vaults.list({ include_archived: true })) all.push(v.id);
      assert.ok(all.includes(made[1]!));

      assert.deepEqual(await client.beta.vaults.delete(made[2]!), { id: made[2], type: 'vault_deleted' });
      assert.ok((await client.beta.vaults.retrieve(made[2]!).catch((e: unknown) => e)) instanceof NotFoundError);
      assert.ok((await client.beta.vaults.delete(made[2]!).catch((e: unknown) => e)) instanceof NotFoundError);
      await client.beta.vaults.delete(made[1]!);
    });

    test('credentials of each type: responses carry the non-secret fields, never a secret', async () => {
      const { client } = s;
      const vault = await client.beta.vaults.create({ display_name: 'secrets' });

      const bearer = await client.beta.vaults.credentials.create(vault.id, {
        display_name: 'Linear',
        metadata: { k: 'v' },
        auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com/sse', token: SECRETS.bearer },
      });
      assert.match(bearer.id, /^vcrd_011C[0-9A-Za-z]{20}$/);
      assert.deepEqual(
        { type: bearer.type, vault_id: bearer.vault_id, display_name: bearer.display_name, auth: bearer.auth, metadata: bearer.metadata, archived_at: bearer.archived_at },
        { type: 'vault_credential', vault_id: vault.id, display_name: 'Linear', auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com/sse' }, metadata: { k: 'v' }, archived_at: null },
      );

      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const oauth = await client.beta.vaults.credentials.create(vault.id, {
        auth: {
          type: 'mcp_oauth',
          mcp_server_url: 'https://tools.example.com/mcp',
          access_token: SECRETS.access,
          expires_at: expiresAt,
          refresh: {
            client_id: 'client-1',
            refresh_token: SECRETS.refresh,
            token_endpoint: 'https://auth.example.com/token',
            token_endpoint_auth: { type: 'client_secret_basic', client_secret: SECRETS.client },
            scope: 'read write',
          },
        },
      });
      assert.deepEqual(oauth.auth, {
        type: 'mcp_oauth',
        mcp_server_url: 'https://tools.example.com/mcp',
        expires_at: expiresAt,
        refresh: { client_id: 'client-1', token_endpoint: 'https://auth.example.com/token', token_endpoint_auth: { type: 'client_secret_basic' }, resource: null, scope: 'read write' },
      });
      assert.equal(oauth.display_name, null);

      const env = await client.beta.vaults.credentials.create(vault.id, {
        auth: { type: 'environment_variable', secret_name: 'GITHUB_TOKEN', secret_value: SECRETS.env, networking: { type: 'limited', allowed_hosts: ['api.github.com', '*.githubusercontent.com'] } },
      });
      assert.deepEqual(env.auth, {
        type: 'environment_variable',
        secret_name: 'GITHUB_TOKEN',
        injection_location: { header: true, body: false },
        networking: { type: 'limited', allowed_hosts: ['api.github.com', '*.githubusercontent.com'] },
      });

      // Retrieve, list, update: still no secret.
      assert.deepEqual(await client.beta.vaults.credentials.retrieve(oauth.id, { vault_id: vault.id }), oauth);
      const listed: string[] = [];
      for await (const c of client.beta.vaults.credentials.list(vault.id, { limit: 1 })) listed.push(c.id);
      assert.deepEqual(listed, [env.id, oauth.id, bearer.id], 'newest first, one per page');

      const rotated = await client.beta.vaults.credentials.update(bearer.id, { vault_id: vault.id, auth: { type: 'static_bearer', token: SECRETS.bearer2 }, display_name: null, metadata: { k: null } });
      assert.deepEqual([rotated.auth, rotated.display_name, rotated.metadata], [bearer.auth, null, {}]);
      const envUpdated = await client.beta.vaults.credentials.update(env.id, {
        vault_id: vault.id,
        auth: { type: 'environment_variable', secret_value: SECRETS.env2, networking: { type: 'unrestricted' }, injection_location: { body: true } },
      });
      assert.deepEqual(envUpdated.auth, { type: 'environment_variable', secret_name: 'GITHUB_TOKEN', injection_location: { header: true, body: true }, networking: { type: 'unrestricted' } });
      const oauthUpdated = await client.beta.vaults.credentials.update(oauth.id, {
        vault_id: vault.id,
        auth: { type: 'mcp_oauth', expires_at: null, refresh: { scope: '', token_endpoint_auth: { type: 'client_secret_post', client_secret: SECRETS.client2 } } },
      });
      assert.equal((oauthUpdated.auth as { expires_at: string | null }).expires_at, null);
      assert.deepEqual((oauthUpdated.auth as { refresh: unknown }).refresh, {
        client_id: 'client-1',
        token_endpoint: 'https://auth.example.com/token',
        token_endpoint_auth: { type: 'client_secret_basic' },
        resource: null,
        scope: null,
      });

      for (const body of s.bodies) assertNoSecretIn(body, 'a response');

      // At rest: every secret sealed, and no plaintext anywhere in the rows.
      const rows = await s.driver.query<{ id: string; sealed_secrets: string | null }>('SELECT * FROM vault_credentials WHERE vault_id = $1', [vault.id]);
      assert.equal(rows.length, 3);
      for (const row of rows) {
        assert.match(row.sealed_secrets ?? '', /^lh1\.[0-9a-f]{12}\./);
        assertNoSecretIn(JSON.stringify(row), `row ${row.id}`);
      }
    });

    test('one active credential per MCP server and per variable; archive makes a credential read-only and purges its secrets', async () => {
      const { client } = s;
      const vault = await client.beta.vaults.create({ display_name: 'limits' });
      const other = await client.beta.vaults.create({ display_name: 'other' });
      const first = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com/sse', token: SECRETS.bearer } });
      // The same server written differently is the same server.
      const dup = await client.beta.vaults.credentials
        .create(vault.id, { auth: { type: 'mcp_oauth', mcp_server_url: 'HTTPS://MCP.example.com:443/sse/', access_token: SECRETS.access } })
        .catch((e: unknown) => e);
      assert.ok(dup instanceof ConflictError, String(dup));
      assert.match(dup.message, new RegExp(`already holds credential ${first.id}`));
      await client.beta.vaults.credentials.create(other.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com/sse', token: SECRETS.bearer } });
      await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'environment_variable', secret_name: 'API_KEY', secret_value: SECRETS.env, networking: { type: 'unrestricted' } } });
      const envDup = await client.beta.vaults.credentials
        .create(vault.id, { auth: { type: 'environment_variable', secret_name: 'API_KEY', secret_value: SECRETS.env2, networking: { type: 'unrestricted' } } })
        .catch((e: unknown) => e);
      assert.ok(envDup instanceof ConflictError);

      const archived = await client.beta.vaults.credentials.archive(first.id, { vault_id: vault.id });
      assert.ok(archived.archived_at !== null);
      const [row] = await s.driver.query<{ sealed_secrets: string | null }>('SELECT sealed_secrets FROM vault_credentials WHERE id = $1', [first.id]);
      assert.equal(row?.sealed_secrets, null, 'archiving purges the secrets');
      for (const change of [
        () => client.beta.vaults.credentials.update(first.id, { vault_id: vault.id, display_name: 'x' }),
        () => client.beta.vaults.credentials.mcpOAuthValidate(first.id, { vault_id: vault.id }),
      ]) {
        const error = await change().catch((e: unknown) => e);
        assert.ok(error instanceof ConflictError, String(error));
      }
      assert.deepEqual(await client.beta.vaults.credentials.retrieve(first.id, { vault_id: vault.id }), archived, 'still readable');
      const listed: string[] = [];
      for await (const c of client.beta.vaults.credentials.list(vault.id)) listed.push(c.id);
      assert.ok(!listed.includes(first.id));
      const withArchived: string[] = [];
      for await (const c of client.beta.vaults.credentials.list(vault.id, { include_archived: true })) withArchived.push(c.id);
      assert.ok(withArchived.includes(first.id));
      // The server is free again.
      const replacement = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com/sse/', token: SECRETS.bearer2 } });

      // Archiving the vault archives what is in it; an archived vault takes nothing new.
      await client.beta.vaults.archive(vault.id);
      assert.ok((await client.beta.vaults.credentials.retrieve(replacement.id, { vault_id: vault.id })).archived_at !== null);
      const live = await s.driver.query('SELECT id FROM vault_credentials WHERE vault_id = $1 AND (archived_at IS NULL OR sealed_secrets IS NOT NULL)', [vault.id]);
      assert.equal(live.length, 0);
      const intoArchived = await client.beta.vaults.credentials
        .create(vault.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://new.example.com/mcp', token: SECRETS.bearer } })
        .catch((e: unknown) => e);
      assert.ok(intoArchived instanceof ConflictError);
      assert.match(intoArchived.message, /archived/);

      // Delete: the credential, then the vault with the rest.
      assert.deepEqual(await client.beta.vaults.credentials.delete(first.id, { vault_id: vault.id }), { id: first.id, type: 'vault_credential_deleted' });
      assert.ok((await client.beta.vaults.credentials.retrieve(first.id, { vault_id: vault.id }).catch((e: unknown) => e)) instanceof NotFoundError);
      await client.beta.vaults.delete(vault.id);
      assert.equal((await s.driver.query('SELECT id FROM vault_credentials WHERE vault_id = $1', [vault.id])).length, 0);
    });

    test('at most 20 active credentials per vault', async () => {
      const { client } = s;
      const vault = await client.beta.vaults.create({ display_name: 'full' });
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', mcp_server_url: `https://m${i}.example.com/mcp`, token: 't0ken' } })).id);
      const over = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://m20.example.com/mcp', token: 't0ken' } }).catch((e: unknown) => e);
      assert.ok(over instanceof ConflictError);
      assert.match(over.message, /20 active credentials/);
      await client.beta.vaults.credentials.archive(ids[0]!, { vault_id: vault.id });
      await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://m20.example.com/mcp', token: 't0ken' } });
    });

    test('bad input is a BadRequestError naming the field; unknown ids are NotFoundErrors', async () => {
      const { client } = s;
      const vault = await client.beta.vaults.create({ display_name: 'inputs' });
      const createCases: [unknown, RegExp][] = [
        [{ metadata: {} }, /^400 .*display_name: Required/],
        [{ display_name: '' }, /display_name: Too small/],
        [{ display_name: 'x'.repeat(256) }, /display_name: Too big/],
        [{ display_name: 'x', metadata: { k: 7 } }, /metadata\.k: /],
      ];
      for (const [body, message] of createCases) {
        const error = await client.beta.vaults.create(body as never).catch((e: unknown) => e);
        assert.ok(error instanceof BadRequestError, `${JSON.stringify(body)} → ${String(error)}`);
        assert.match(error.message, message);
      }

      const credentialCases: [unknown, RegExp][] = [
        [{}, /auth: Required/],
        [{ auth: { type: 'basic_auth' } }, /auth\.type: /],
        [{ auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com' } }, /auth\.token: Required/],
        [{ auth: { type: 'static_bearer', mcp_server_url: 'ftp://mcp.example.com', token: 't' } }, /auth\.mcp_server_url: must be an http\(s\) URL/],
        [{ auth: { type: 'mcp_oauth', mcp_server_url: 'https://a.example.com', access_token: 't', expires_at: '2020-01-01T00:00:00Z' } }, /auth\.expires_at: must be in the future/],
        [{ auth: { type: 'mcp_oauth', mcp_server_url: 'https://a.example.com', access_token: 't', expires_at: 'tomorrow' } }, /auth\.expires_at: must be an RFC 3339 timestamp/],
        [
          { auth: { type: 'mcp_oauth', mcp_server_url: 'https://a.example.com', access_token: 't', refresh: { client_id: 'c', refresh_token: 'r', token_endpoint: 'https://a.example.com/t', token_endpoint_auth: { type: 'client_secret_post' } } } },
          /auth\.refresh\.token_endpoint_auth\.client_secret: Required/,
        ],
        [{ auth: { type: 'environment_variable', secret_name: '1BAD', secret_value: 'v', networking: { type: 'unrestricted' } } }, /auth\.secret_name: must be an environment variable name/],
        [{ auth: { type: 'environment_variable', secret_name: 'OK', secret_value: 'v', networking: { type: 'limited', allowed_hosts: ['https://api.example.com/x'] } } }, /auth\.networking\.allowed_hosts\.0: must be a hostname/],
        [{ auth: { type: 'environment_variable', secret_name: 'OK', secret_value: 'v', networking: { type: 'limited', allowed_hosts: [] } } }, /auth\.networking\.allowed_hosts: Too small/],
        [{ auth: { type: 'environment_variable', secret_name: 'OK', secret_value: 'v', networking: { type: 'unrestricted' }, injection_location: { header: false } } }, /auth\.injection_location: at least one/],
      ];
      for (const [body, message] of credentialCases) {
        const error = await client.beta.vaults.credentials.create(vault.id, body as never).catch((e: unknown) => e);
        assert.ok(error instanceof BadRequestError, `${JSON.stringify(body)} → ${String(error)}`);
        assert.match(error.message, message);
      }

      const bearer = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com', token: 't0ken' } });
      const oauth = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'mcp_oauth', mcp_server_url: 'https://o.example.com', access_token: 't0ken' } });
      const updateCases: [string, unknown, RegExp][] = [
        [bearer.id, { auth: { type: 'mcp_oauth' } }, /auth\.type: must be static_bearer, the credential's type/],
        [oauth.id, { auth: { type: 'mcp_oauth', refresh: { refresh_token: 'r' } } }, /auth\.refresh: the credential has no refresh configuration/],
        [bearer.id, { auth: { type: 'static_bearer', token: '' } }, /auth\.token: Too small/],
      ];
      for (const [id, body, message] of updateCases) {
        const error = await client.beta.vaults.credentials.update(id, { vault_id: vault.id, ...(body as object) }).catch((e: unknown) => e);
        assert.ok(error instanceof BadRequestError, `${JSON.stringify(body)} → ${String(error)}`);
        assert.match(error.message, message);
      }
      const envCred = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'environment_variable', secret_name: 'X', secret_value: 'v', networking: { type: 'unrestricted' } } });
      const notMcp = await client.beta.vaults.credentials.mcpOAuthValidate(envCred.id, { vault_id: vault.id }).catch((e: unknown) => e);
      assert.ok(notMcp instanceof BadRequestError);
      assert.match(notMcp.message, /environment_variable credential/);

      for (const call of [
        () => client.beta.vaults.retrieve('vlt_missing'),
        () => client.beta.vaults.credentials.list('vlt_missing'),
        () => client.beta.vaults.credentials.create('vlt_missing', { auth: { type: 'static_bearer', mcp_server_url: 'https://x.example.com', token: 't' } }),
        () => client.beta.vaults.credentials.retrieve('vcrd_missing', { vault_id: vault.id }),
        // A credential is reached only through its own vault.
        () => client.beta.vaults.credentials.retrieve(bearer.id, { vault_id: 'vlt_other' }),
      ]) {
        const error = await call().catch((e: unknown) => e);
        assert.ok(error instanceof NotFoundError, String(error));
      }
    });

    test('mcpOAuthValidate probes the MCP server, refreshes on a refusal, and reports what happened', async () => {
      const { client } = s;
      await using oauth = await OAuthTestServer.start({ clientId: 'app', clientSecret: SECRETS.client, clientAuth: 'client_secret_post', refreshToken: SECRETS.refresh, accessTokens: [SECRETS.access] });
      const vault = await client.beta.vaults.create({ display_name: 'validate' });
      const credential = await client.beta.vaults.credentials.create(vault.id, {
        auth: {
          type: 'mcp_oauth',
          mcp_server_url: oauth.mcpUrl,
          access_token: SECRETS.access,
          refresh: { client_id: 'app', refresh_token: SECRETS.refresh, token_endpoint: oauth.tokenEndpoint, token_endpoint_auth: { type: 'client_secret_post', client_secret: SECRETS.client } },
        },
      });
      const params = { vault_id: vault.id };

      const valid = await client.beta.vaults.credentials.mcpOAuthValidate(credential.id, params);
      assert.deepEqual({ ...valid, validated_at: undefined }, {
        type: 'vault_credential_validation',
        credential_id: credential.id,
        vault_id: vault.id,
        status: 'valid',
        has_refresh_token: true,
        mcp_probe: null,
        refresh: null,
        validated_at: undefined,
      });
      assert.equal(oauth.requests.length, 0, 'a working token is not refreshed');

      // The server stops accepting the token: refresh, probe again with the new one.
      oauth.validAccessTokens.delete(SECRETS.access);
      const recovered = await client.beta.vaults.credentials.mcpOAuthValidate(credential.id, params);
      assert.deepEqual([recovered.status, recovered.mcp_probe, recovered.refresh], ['valid', null, { status: 'succeeded', http_response: null }]);
      assert.equal(oauth.requests.length, 1);
      assert.deepEqual(oauth.mcpAuthorizations.filter((t) => t !== '').slice(-2), [SECRETS.access, 'access-1']);
      const after = await client.beta.vaults.credentials.retrieve(credential.id, params);
      const expiresAt = (after.auth as { expires_at: string | null }).expires_at;
      assert.ok(expiresAt !== null && Date.parse(expiresAt) > Date.now() + 3_000_000, 'expires_at from the new expires_in');

      // The refresh token is refused too: invalid, with the endpoint's answer scrubbed.
      oauth.validAccessTokens.clear();
      oauth.validRefreshToken = 'something-else';
      const invalid = await client.beta.vaults.credentials.mcpOAuthValidate(credential.id, params);
      assert.equal(invalid.status, 'invalid');
      assert.equal(invalid.mcp_probe?.method, 'initialize');
      assert.equal(invalid.mcp_probe?.http_response?.status_code, 401);
      assert.equal(invalid.mcp_probe?.http_response?.content_type, 'application/json');
      assert.match(invalid.mcp_probe?.http_response?.body ?? '', /"presented":"\[redacted\]"/, 'the echoed token is scrubbed');
      assert.equal(invalid.refresh?.status, 'failed');
      assert.equal(invalid.refresh?.http_response?.status_code, 400);
      assert.match(invalid.refresh?.http_response?.body ?? '', /invalid_grant/);
      assert.ok(!(invalid.refresh?.http_response?.body ?? '').includes('refresh-1'), 'the refresh token the endpoint echoed is scrubbed');

      // Token endpoint unreachable: unknown.
      const unreachable = await client.beta.vaults.credentials.create(vault.id, {
        auth: {
          type: 'mcp_oauth',
          mcp_server_url: `${oauth.mcpUrl}/other`,
          access_token: 'stale',
          refresh: { client_id: 'app', refresh_token: 'r', token_endpoint: 'http://127.0.0.1:1/token', token_endpoint_auth: { type: 'none' } },
        },
      });
      const unknown = await client.beta.vaults.credentials.mcpOAuthValidate(unreachable.id, params);
      assert.deepEqual([unknown.status, unknown.refresh], ['unknown', { status: 'connect_error', http_response: null }]);

      // No refresh token, and a static bearer the server refuses: invalid.
      const noRefresh = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'mcp_oauth', mcp_server_url: `${oauth.mcpUrl}/a`, access_token: 'stale' } });
      const noRefreshResult = await client.beta.vaults.credentials.mcpOAuthValidate(noRefresh.id, params);
      assert.deepEqual([noRefreshResult.status, noRefreshResult.has_refresh_token, noRefreshResult.refresh], ['invalid', false, { status: 'no_refresh_token', http_response: null }]);
      const bearer = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', mcp_server_url: `${oauth.mcpUrl}/b`, token: SECRETS.bearer } });
      const bearerResult = await client.beta.vaults.credentials.mcpOAuthValidate(bearer.id, params);
      assert.deepEqual([bearerResult.status, bearerResult.refresh, bearerResult.mcp_probe?.http_response?.status_code], ['invalid', null, 401]);

      // MCP server unreachable: unknown, no response captured.
      const gone = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', mcp_server_url: 'http://127.0.0.1:1/mcp', token: SECRETS.bearer } });
      const goneResult = await client.beta.vaults.credentials.mcpOAuthValidate(gone.id, params);
      assert.deepEqual([goneResult.status, goneResult.mcp_probe], ['unknown', { method: 'initialize', http_response: null }]);

      for (const body of s.bodies) assertNoSecretIn(body, 'a response');
      const rows = await s.driver.query('SELECT * FROM vault_credentials WHERE vault_id = $1', [vault.id]);
      for (const row of rows) assert.ok(!JSON.stringify(row).includes('access-1'), 'refreshed tokens are stored sealed');
    });
  });
}

test('without a secret key, vault routes answer 503 saying how to enable them', async () => {
  await using s = await serve(await openPgliteDriver());
  const error = await s.client.beta.vaults.list().catch((e: unknown) => e);
  assert.ok(error instanceof InternalServerError, String(error));
  assert.equal(error.status, 503);
  assert.match(error.message, /vaults are unavailable: this server has no secret key .* set LONGHAUL_SECRET_KEY/);
  const create = await s.client.beta.vaults.credentials.create('vlt_x', { auth: { type: 'static_bearer', mcp_server_url: 'https://x.example.com', token: 't' } }).catch((e: unknown) => e);
  assert.ok(create instanceof InternalServerError && create.status === 503);
  assert.equal((await s.client.beta.agents.list()).data.length, 0, 'the rest of the API is unaffected');
});

test('the OpenAPI document describes the vault routes from their schemas', async () => {
  await using s = await serve(await openPgliteDriver(), { secretBox: SecretBox.fromBase64(SecretBox.generateKey()) });
  const response = await fetch(`${s.url}/openapi.json`);
  assert.equal(response.status, 200);
  const doc = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
  for (const path of ['/v1/vaults', '/v1/vaults/{vault_id}', '/v1/vaults/{vault_id}/archive', '/v1/vaults/{vault_id}/credentials', '/v1/vaults/{vault_id}/credentials/{credential_id}/mcp_oauth_validate']) {
    assert.ok(doc.paths[path], path);
  }
  assertNoSecretIn(JSON.stringify(doc), 'the document');
  const created = JSON.stringify(doc.paths['/v1/vaults/{vault_id}/credentials']?.['post']);
  assert.match(created, /secret_value/, 'params name the write-only fields');
});
