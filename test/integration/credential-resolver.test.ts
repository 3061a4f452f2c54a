import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CredentialCreateParams } from '../../src/schemas/api-vault.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { migrateSchema } from '../../src/store/migrate-schema.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { VaultStore } from '../../src/store/vault-store.ts';
import { CredentialRefreshError, CredentialResolver } from '../../src/vaults/credential-resolver.ts';
import { OAuthTestServer, type ClientAuth } from '../support/oauth-test-server.ts';
import { storeBackends } from '../support/store-backends.ts';

const CLIENT_SECRET = 'cl!ent:secret+/= 42';
const REFRESH_TOKEN = 'refresh-token-original-9999';
const ACCESS_TOKEN = 'access-token-original-8888';

const backends: Record<string, () => Promise<SqlDriver>> = storeBackends();

type Setup = { driver: SqlDriver; vaults: VaultStore; box: SecretBox; [Symbol.asyncDispose](): Promise<void> };

async function setup(openDriver: () => Promise<SqlDriver>): Promise<Setup> {
  const driver = await openDriver();
  await migrateSchema(driver);
  const box = SecretBox.fromBase64(SecretBox.generateKey());
  return { driver, box, vaults: new VaultStore(driver, { secretBox: box }), [Symbol.asyncDispose]: () => driver.close() };
}

function oauthParams(server: OAuthTestServer, { clientAuth, expiresAt, mcpUrl = server.mcpUrl }: { clientAuth: ClientAuth; expiresAt: string | null; mcpUrl?: string }): CredentialCreateParams {
  return {
    auth: {
      type: 'mcp_oauth',
      mcp_server_url: mcpUrl,
      access_token: ACCESS_TOKEN,
      expires_at: expiresAt,
      refresh: {
        client_id: 'longhaul app',
        refresh_token: REFRESH_TOKEN,
        token_endpoint: server.tokenEndpoint,
        token_endpoint_auth: clientAuth === 'none' ? { type: 'none' } : { type: clientAuth, client_secret: CLIENT_SECRET },
        resource: 'https://mcp.example.com/',
        scope: 'tools:read tools:call',
      },
    },
  };
}

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

for (const [backend, openDriver] of Object.entries(backends)) {
  describe(backend, () => {
    test('static bearer: URL matched normalised, first vault wins, archived credentials and vaults skipped', async () => {
      await using s = await setup(openDriver);
      const resolver = new CredentialResolver({ vaults: s.vaults, box: s.box });
      const first = await s.vaults.create({ display_name: 'first' });
      const second = await s.vaults.create({ display_name: 'second' });
      const a = await s.vaults.createCredential(first.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com/sse', token: 'token-a' } });
      const b = await s.vaults.createCredential(second.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com/sse', token: 'token-b' } });

      for (const url of ['https://mcp.example.com/sse', 'https://MCP.Example.com:443/sse/', 'https://mcp.example.com/sse?x=1']) {
        assert.deepEqual(await resolver.mcpAccess([first.id, second.id], url), { token: 'token-a', credentialId: a.id }, url);
      }
      assert.deepEqual(await resolver.mcpAccess([second.id, first.id], 'https://mcp.example.com/sse'), { token: 'token-b', credentialId: b.id }, 'vault order is priority');
      for (const url of ['https://mcp.example.com/other', 'http://mcp.example.com/sse', 'https://mcp.example.com:8443/sse', 'not a url']) {
        assert.equal(await resolver.mcpAccess([first.id, second.id], url), undefined, url);
      }
      assert.equal(await resolver.mcpAccess(['vlt_unknown'], 'https://mcp.example.com/sse'), undefined);
      assert.equal(await resolver.mcpAccess([], 'https://mcp.example.com/sse'), undefined);

      await s.vaults.archiveCredential(first.id, a.id);
      assert.equal((await resolver.mcpAccess([first.id, second.id], 'https://mcp.example.com/sse'))?.token, 'token-b');
      await s.vaults.archive(second.id);
      assert.equal(await resolver.mcpAccess([first.id, second.id], 'https://mcp.example.com/sse'), undefined);
    });

    for (const clientAuth of ['none', 'client_secret_basic', 'client_secret_post'] as const) {
      test(`mcp_oauth near expiry is refreshed (${clientAuth}); the new tokens are stored sealed and the next refresh uses the new refresh token`, async () => {
        await using s = await setup(openDriver);
        await using server = await OAuthTestServer.start({ clientId: 'longhaul app', clientSecret: CLIENT_SECRET, clientAuth, refreshToken: REFRESH_TOKEN });
        const vault = await s.vaults.create({ display_name: 'v' });
        // 30 s left: inside the 60 s margin.
        const credential = await s.vaults.createCredential(vault.id, oauthParams(server, { clientAuth, expiresAt: inSeconds(30) }));
        const resolver = new CredentialResolver({ vaults: s.vaults, box: s.box });

        assert.deepEqual(await resolver.mcpAccess([vault.id], server.mcpUrl), { token: 'access-1', credentialId: credential.id });
        assert.equal(server.requests.length, 1);
        const [request] = server.requests;
        assert.equal(request!.contentType, 'application/x-www-form-urlencoded');
        assert.equal(request!.form['grant_type'], 'refresh_token');
        assert.equal(request!.form['refresh_token'], REFRESH_TOKEN);
        assert.equal(request!.form['scope'], 'tools:read tools:call');
        assert.equal(request!.form['resource'], 'https://mcp.example.com/');
        if (clientAuth === 'client_secret_basic') assert.match(request!.authorization ?? '', /^Basic /);
        else assert.equal(request!.authorization, undefined);

        const stored = await s.vaults.retrieveCredential(vault.id, credential.id);
        assert.ok(stored.auth.type === 'mcp_oauth' && stored.auth.expires_at !== null);
        const expiresInMs = Date.parse(stored.auth.expires_at) - Date.now();
        assert.ok(expiresInMs > 3_500_000 && expiresInMs <= 3_600_000, `expires_at from expires_in (${expiresInMs} ms)`);
        const [row] = await s.driver.query('SELECT * FROM vault_credentials WHERE id = $1', [credential.id]);
        for (const plaintext of ['access-1', 'refresh-1', REFRESH_TOKEN, ACCESS_TOKEN, CLIENT_SECRET]) assert.ok(!JSON.stringify(row).includes(plaintext), plaintext);

        // Fresh now: served without a refresh. Forced: refreshed with the rotated refresh token.
        assert.equal((await resolver.mcpAccess([vault.id], server.mcpUrl))?.token, 'access-1');
        assert.equal(server.requests.length, 1);
        assert.equal((await resolver.mcpAccess([vault.id], server.mcpUrl, { forceRefresh: true }))?.token, 'access-2');
        assert.equal(server.requests[1]?.form['refresh_token'], 'refresh-1');
      });
    }

    test('expiry is judged by the injected clock; a token with no expiry or no refresh config is served as it is', async () => {
      await using s = await setup(openDriver);
      await using server = await OAuthTestServer.start({ clientId: 'longhaul app', clientAuth: 'none', refreshToken: REFRESH_TOKEN, rotateRefreshTokens: false, expiresInSeconds: null });
      const vault = await s.vaults.create({ display_name: 'v' });
      const credential = await s.vaults.createCredential(vault.id, oauthParams(server, { clientAuth: 'none', expiresAt: inSeconds(600) }));
      const now = new Resolver(s);
      assert.equal((await now.at(0).mcpAccess([vault.id], server.mcpUrl))?.token, ACCESS_TOKEN);
      assert.equal(server.requests.length, 0, '10 minutes left: no refresh');
      assert.equal((await now.at(20 * 60_000).mcpAccess([vault.id], server.mcpUrl))?.token, 'access-1', 'twenty minutes on, it has expired');
      assert.equal(server.requests.length, 1);
      const stored = await s.vaults.retrieveCredential(vault.id, credential.id);
      assert.ok(stored.auth.type === 'mcp_oauth');
      assert.equal(stored.auth.expires_at, null, 'no expires_in: expiry unknown');
      assert.equal((await now.at(10 * 365 * 86_400_000).mcpAccess([vault.id], server.mcpUrl))?.token, 'access-1', 'unknown expiry: no refresh');
      assert.equal(server.requests.length, 1);
      assert.equal(server.requests[0]?.form['client_id'], 'longhaul app');

      const noRefresh = await s.vaults.createCredential(vault.id, { auth: { type: 'mcp_oauth', mcp_server_url: 'https://plain.example.com/mcp', access_token: 'plain', expires_at: inSeconds(10) } });
      assert.deepEqual(await now.at(60_000).mcpAccess([vault.id], 'https://plain.example.com/mcp'), { token: 'plain', credentialId: noRefresh.id });
      const forced = await now.at(0).mcpAccess([vault.id], 'https://plain.example.com/mcp', { forceRefresh: true }).catch((e: unknown) => e);
      assert.ok(forced instanceof CredentialRefreshError && forced.reason === 'no_refresh_token', String(forced));
    });

    test('a refused or unreachable token endpoint is a CredentialRefreshError naming the credential, never a secret', async () => {
      await using s = await setup(openDriver);
      await using server = await OAuthTestServer.start({ clientId: 'longhaul app', clientSecret: CLIENT_SECRET, clientAuth: 'client_secret_post', refreshToken: 'another-refresh-token' });
      const vault = await s.vaults.create({ display_name: 'v' });
      const credential = await s.vaults.createCredential(vault.id, oauthParams(server, { clientAuth: 'client_secret_post', expiresAt: null }));
      const resolver = new CredentialResolver({ vaults: s.vaults, box: s.box });

      const refused = await resolver.mcpAccess([vault.id], server.mcpUrl, { forceRefresh: true }).catch((e: unknown) => e);
      assert.ok(refused instanceof CredentialRefreshError, String(refused));
      assert.equal(refused.reason, 'failed');
      assert.equal(refused.credentialId, credential.id);
      assert.match(refused.message, new RegExp(`^credential ${credential.id} \\(vault ${vault.id}\\): could not refresh its OAuth access token: the token endpoint answered 400 \\(invalid_grant\\)$`));
      const everything = `${refused.message} ${refused.stack} ${JSON.stringify(refused.httpResponse)}`;
      for (const secret of [REFRESH_TOKEN, ACCESS_TOKEN, CLIENT_SECRET]) assert.ok(!everything.includes(secret), 'no secret in the error');
      assert.match(refused.httpResponse?.body ?? '', /\[redacted\]/, 'the refresh token the endpoint echoed is scrubbed');
      assert.equal((await s.vaults.sealedCredential(credential.id)) !== undefined, true, 'a failed refresh leaves the credential usable');
      const [lease] = await s.driver.query<{ refresh_lease_until: string | null }>('SELECT refresh_lease_until FROM vault_credentials WHERE id = $1', [credential.id]);
      assert.equal(lease?.refresh_lease_until, null, 'and gives its lease back');

      server.failWith = { status: 500, body: { error: 'server_error', error_description: `saw ${CLIENT_SECRET}` } };
      const broken = await resolver.mcpAccess([vault.id], server.mcpUrl, { forceRefresh: true }).catch((e: unknown) => e);
      assert.ok(broken instanceof CredentialRefreshError);
      assert.match(broken.message, /answered 500 \(server_error\)$/);
      assert.ok(!JSON.stringify(broken.httpResponse).includes(CLIENT_SECRET));

      await server.close();
      const unreachable = await resolver.mcpAccess([vault.id], server.mcpUrl, { forceRefresh: true }).catch((e: unknown) => e);
      assert.ok(unreachable instanceof CredentialRefreshError);
      assert.equal(unreachable.reason, 'connect_error');
      assert.match(unreachable.message, /the token endpoint could not be reached \((ECONNREFUSED|UND_ERR_SOCKET)\)$/);
    });

    test('concurrent refreshes of one credential are one exchange, in one process and across two', async () => {
      await using s = await setup(openDriver);
      await using server = await OAuthTestServer.start({ clientId: 'longhaul app', clientSecret: CLIENT_SECRET, clientAuth: 'client_secret_basic', refreshToken: REFRESH_TOKEN });
      server.tokenDelayMs = 300;
      const vault = await s.vaults.create({ display_name: 'v' });
      await s.vaults.createCredential(vault.id, oauthParams(server, { clientAuth: 'client_secret_basic', expiresAt: inSeconds(5) }));

      const resolver = new CredentialResolver({ vaults: s.vaults, box: s.box });
      const tokens = await Promise.all(Array.from({ length: 5 }, () => resolver.mcpAccess([vault.id], server.mcpUrl)));
      assert.deepEqual(tokens.map((t) => t?.token), Array(5).fill('access-1'));
      assert.equal(server.requests.length, 1, 'one process: the refresh in flight is shared');

      // Two workers (resolvers on their own store objects) told the token was refused at once.
      // The refresh token rotates, so a second exchange would fail with invalid_grant.
      const other = new CredentialResolver({ vaults: new VaultStore(s.driver), box: s.box });
      const both = await Promise.all([resolver.mcpAccess([vault.id], server.mcpUrl, { forceRefresh: true }), other.mcpAccess([vault.id], server.mcpUrl, { forceRefresh: true })]);
      assert.deepEqual(both.map((t) => t?.token), ['access-2', 'access-2']);
      assert.equal(server.requests.length, 2, 'two processes: the lease lets one exchange happen and the other waits for its token');
    });

    test('environment secrets: opened for the egress proxy, first vault wins a name, archived ones skipped', async () => {
      await using s = await setup(openDriver);
      const resolver = new CredentialResolver({ vaults: s.vaults, box: s.box });
      const first = await s.vaults.create({ display_name: 'first' });
      const second = await s.vaults.create({ display_name: 'second' });
      const gh = await s.vaults.createCredential(first.id, {
        auth: { type: 'environment_variable', secret_name: 'GITHUB_TOKEN', secret_value: 'ghp-first', networking: { type: 'limited', allowed_hosts: ['api.github.com', '*.github.com'] } },
      });
      await s.vaults.createCredential(second.id, { auth: { type: 'environment_variable', secret_name: 'GITHUB_TOKEN', secret_value: 'ghp-second', networking: { type: 'unrestricted' } } });
      const npm = await s.vaults.createCredential(second.id, {
        auth: { type: 'environment_variable', secret_name: 'NPM_TOKEN', secret_value: 'npm-value', networking: { type: 'unrestricted' }, injection_location: { header: false, body: true } },
      });
      const archived = await s.vaults.createCredential(second.id, { auth: { type: 'environment_variable', secret_name: 'OLD', secret_value: 'old', networking: { type: 'unrestricted' } } });
      await s.vaults.archiveCredential(second.id, archived.id);
      await s.vaults.createCredential(second.id, { auth: { type: 'static_bearer', mcp_server_url: 'https://mcp.example.com', token: 'not-an-env-secret' } });

      assert.deepEqual(await resolver.environmentSecrets([first.id, second.id]), [
        { credentialId: gh.id, name: 'GITHUB_TOKEN', value: 'ghp-first', hosts: ['api.github.com', '*.github.com'], header: true, body: false },
        { credentialId: npm.id, name: 'NPM_TOKEN', value: 'npm-value', hosts: 'any', header: false, body: true },
      ]);
      // Within one vault no two live credentials share a name, so their order decides nothing,
      // and two made in the same millisecond have none: compared as sets.
      const values = async (vaultIds: string[]) => (await resolver.environmentSecrets(vaultIds)).map((e) => e.value).sort();
      assert.deepEqual(await values([second.id, first.id]), ['ghp-second', 'npm-value']);
      await s.vaults.archive(first.id);
      assert.deepEqual(await values([first.id, second.id]), ['ghp-second', 'npm-value']);
    });
  });
}

/** Resolvers whose clock is `offsetMs` ahead of the real one. */
class Resolver {
  readonly #s: Setup;
  constructor(s: Setup) {
    this.#s = s;
  }
  at(offsetMs: number): CredentialResolver {
    return new CredentialResolver({ vaults: this.#s.vaults, box: this.#s.box, now: () => new Date(Date.now() + offsetMs) });
  }
}
