import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, dataDirLayout, resolveApiPort, resolveDataDir, resolveDevApiKey } from '../../src/config/dev-config.ts';
import { sandboxLimitsFromEnv } from '../../src/config/sandbox-config.ts';
import { devInfoPath, readDevInfo, removeDevInfo, writeDevInfo, type DevInfo } from '../../src/config/dev-info.ts';
import { resolveRunTarget } from '../../src/cli/run-target.ts';
import { connectApi } from '../../src/cli/api-connection.ts';

const dir = mkdtempSync(join(tmpdir(), 'longhaul-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const info = (over: Partial<DevInfo> = {}): DevInfo => ({
  version: 1,
  pid: process.pid,
  started_at: '2026-01-01T00:00:00Z',
  data_dir: dir,
  api_url: 'http://127.0.0.1:4000',
  api_key: 'lh-dev-key',
  temporal_address: '127.0.0.1:7233',
  temporal_ui_url: 'http://127.0.0.1:8233',
  temporal_started: true,
  task_queue: 'longhaul',
  model: { kind: 'scripted', base_url: 'http://127.0.0.1:1' },
  ...over,
});

test('data dir: flag, then LONGHAUL_DATA_DIR, then .longhaul in the working directory', () => {
  assert.equal(resolveDataDir({ flag: 'x', env: { LONGHAUL_DATA_DIR: '/y' }, cwd: '/w' }), '/w/x');
  assert.equal(resolveDataDir({ env: { LONGHAUL_DATA_DIR: '/y' }, cwd: '/w' }), '/y');
  assert.equal(resolveDataDir({ env: { LONGHAUL_DATA_DIR: ' ' }, cwd: '/w' }), '/w/.longhaul');
  assert.equal(dataDirLayout('/d').temporalDb, '/d/temporal/dev.sqlite');
});

test('port: flag, then LONGHAUL_PORT, then 4000; nonsense is refused by name', () => {
  assert.equal(resolveApiPort({ flag: '4100', env: { LONGHAUL_PORT: '4200' } }), 4100);
  assert.equal(resolveApiPort({ env: { LONGHAUL_PORT: '4200' } }), 4200);
  assert.equal(resolveApiPort({ env: {} }), 4000);
  assert.throws(() => resolveApiPort({ flag: '70000', env: {} }), /--port must be a TCP port/);
  assert.throws(() => resolveApiPort({ env: { LONGHAUL_PORT: '4k' } }), /LONGHAUL_PORT must be a TCP port/);
});

test('the generated API key is kept (mode 0600) and reused; LONGHAUL_API_KEY wins', async () => {
  const layout = dataDirLayout(join(dir, 'keys'));
  const first = await resolveDevApiKey({ layout, env: {} });
  assert.equal(first.source, 'generated');
  assert.match(first.key, /^lh-dev-[A-Za-z0-9_-]{32}$/);
  assert.equal(statSync(layout.apiKeyFile).mode & 0o777, 0o600);
  assert.deepEqual(await resolveDevApiKey({ layout, env: {} }), { key: first.key, source: 'file' });
  assert.deepEqual(await resolveDevApiKey({ layout, env: { LONGHAUL_API_KEY: 'mine' } }), { key: 'mine', source: 'env' });
});

test('dev.json: written 0600, read back, stale when its process is gone, removed only by its owner', async () => {
  await writeDevInfo(dir, info());
  assert.equal(statSync(devInfoPath(dir)).mode & 0o777, 0o600);
  assert.deepEqual(await readDevInfo(dir), { state: 'running', info: info() });

  await removeDevInfo(dir, process.pid + 1);
  assert.equal((await readDevInfo(dir)).state, 'running', 'another process does not remove it');

  await writeDevInfo(dir, info({ pid: 2 ** 22 + 12345 }));
  assert.equal((await readDevInfo(dir)).state, 'stale');
  await assert.rejects(resolveRunTarget({ dataDir: dir, env: {} }), /is no longer running; start one with `\.\/longhaul dev`/);

  writeFileSync(devInfoPath(dir), '{"version": 2}');
  assert.equal((await readDevInfo(dir)).state, 'invalid');
  await removeDevInfo(dir);
  assert.equal((await readDevInfo(dir)).state, 'missing');
  assert.throws(() => readFileSync(devInfoPath(dir)));
});

test('run target: dev.json of the data dir, or --url with a key; the dev key serves the same URL', async () => {
  await writeDevInfo(dir, info());
  assert.deepEqual(await resolveRunTarget({ dataDir: dir, env: {} }), { baseURL: 'http://127.0.0.1:4000', apiKey: 'lh-dev-key', model: info().model });
  assert.deepEqual(await resolveRunTarget({ dataDir: dir, url: 'http://localhost:4000/', env: {} }), {
    baseURL: 'http://localhost:4000/',
    apiKey: 'lh-dev-key',
    model: info().model,
  });
  await assert.rejects(resolveRunTarget({ dataDir: dir, url: 'http://elsewhere:1', env: {} }), /no API key for http:\/\/elsewhere:1/);
  assert.deepEqual(await resolveRunTarget({ dataDir: dir, env: { LONGHAUL_URL: 'http://elsewhere:1', LONGHAUL_API_KEY: 'k' } }), {
    baseURL: 'http://elsewhere:1',
    apiKey: 'k',
    model: undefined,
  });
  await removeDevInfo(dir);
});

test('resource commands\' connection: --base-url, LONGHAUL_BASE_URL, the running dev, the default port; the dev key only for the dev URL, before ANTHROPIC_API_KEY', async () => {
  const target = async (flags: Parameters<typeof connectApi>[0]['flags'], env: NodeJS.ProcessEnv) => {
    const { client, baseURL } = await connectApi({ flags: { dataDir: dir, ...flags }, env });
    return { baseURL, apiKey: client.apiKey };
  };
  await removeDevInfo(dir);
  assert.deepEqual(await target({}, { ANTHROPIC_API_KEY: 'sk-a' }), { baseURL: 'http://127.0.0.1:4000', apiKey: 'sk-a' });
  await assert.rejects(target({}, {}), /no API key for http:\/\/127\.0\.0\.1:4000: pass --api-key/);

  await writeDevInfo(dir, info({ api_url: 'http://127.0.0.1:4555' }));
  assert.deepEqual(await target({}, { ANTHROPIC_API_KEY: 'sk-a' }), { baseURL: 'http://127.0.0.1:4555', apiKey: 'lh-dev-key' });
  assert.deepEqual(await target({}, { LONGHAUL_API_KEY: 'k' }), { baseURL: 'http://127.0.0.1:4555', apiKey: 'k' });
  assert.deepEqual(await target({}, { LONGHAUL_BASE_URL: 'http://elsewhere:1', ANTHROPIC_API_KEY: 'sk-a' }), { baseURL: 'http://elsewhere:1', apiKey: 'sk-a' });
  assert.deepEqual(await target({ baseUrl: 'http://flag:2', apiKey: 'f' }, { LONGHAUL_BASE_URL: 'http://elsewhere:1', LONGHAUL_API_KEY: 'k' }), { baseURL: 'http://flag:2', apiKey: 'f' });
  await removeDevInfo(dir);
});

test('LONGHAUL_SANDBOX_DISK_MB sets the default disk quota; anything but a whole number of MiB from 64 up is a ConfigError naming it', () => {
  assert.deepEqual(sandboxLimitsFromEnv({}), {});
  assert.deepEqual(sandboxLimitsFromEnv({ LONGHAUL_SANDBOX_DISK_MB: ' 2048 ' }), { diskMb: 2048 });
  for (const bad of ['63', '1.5', '-100', '10G', '1e4', '99999999999999999999']) {
    assert.throws(() => sandboxLimitsFromEnv({ LONGHAUL_SANDBOX_DISK_MB: bad }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_SANDBOX_DISK_MB must be a whole number of MiB, at least 64/.test(error.message), bad);
  }
});
