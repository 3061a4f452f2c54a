import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OpenAPIHono } from '@hono/zod-openapi';
import { errorResponseOf } from '../../src/api/api-errors.ts';
import type { ApiEnv } from '../../src/api/api-types.ts';
import { registerConsoleRoutes } from '../../src/api/console-routes.ts';

const KEY = 'console-unit-key';

/** The console's routes alone, over an empty bundle folder (the built bundle is the browser test's). */
async function unbuiltConsole(options: { temporalUiUrl?: string; temporalNamespace?: string } = {}) {
  const empty = await mkdtemp(join(tmpdir(), 'longhaul-console-'));
  const app = new OpenAPIHono<ApiEnv>();
  registerConsoleRoutes(app, { apiKeys: [KEY], bundleDir: empty, ...options });
  app.onError((error, c) => c.json({ type: 'error' }, errorResponseOf(error).status as 401));
  return { app, [Symbol.asyncDispose]: () => rm(empty, { recursive: true, force: true }) };
}

test('an unbuilt console answers 503 with how to build it, and its config still needs the key', async () => {
  await using fixture = await unbuiltConsole();
  for (const path of ['/console', '/console/', '/console/sessions/sesn_1']) {
    const response = await fixture.app.request(path);
    assert.equal(response.status, 503, path);
    assert.match(await response.text(), /npm run build:console/);
  }
  assert.equal((await fixture.app.request('/console/config.json')).status, 401);
});

test('the config says which Temporal UI and namespace to link to, without a trailing slash, to key holders only', async () => {
  await using fixture = await unbuiltConsole({ temporalUiUrl: 'http://temporal.example:8080/', temporalNamespace: 'agents' });
  assert.equal((await fixture.app.request('/console/config.json', { headers: { 'x-api-key': 'wrong' } })).status, 401);
  const response = await fixture.app.request('/console/config.json', { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  assert.deepEqual(await response.json(), { temporal_ui_url: 'http://temporal.example:8080', temporal_namespace: 'agents' });
});

test('without a Temporal UI URL the config says so, and the namespace defaults to `default`', async () => {
  await using fixture = await unbuiltConsole();
  const response = await fixture.app.request('/console/config.json', { headers: { 'x-api-key': KEY } });
  assert.deepEqual(await response.json(), { temporal_ui_url: null, temporal_namespace: 'default' });
});
