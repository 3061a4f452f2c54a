import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { BetaManagedAgentsMemory, BetaManagedAgentsMemoryPrefix } from '@anthropic-ai/sdk/resources/beta/memory-stores/memories';
import type { BetaManagedAgentsMemoryStore } from '@anthropic-ai/sdk/resources/beta/memory-stores/memory-stores';
import type { BetaManagedAgentsMemoryVersion } from '@anthropic-ai/sdk/resources/beta/memory-stores/memory-versions';
import { Client, Connection } from '@temporalio/client';
import { createApiApp } from '../../src/api/create-api-app.ts';
import { serveApi, type ServedApi } from '../../src/api/serve-api.ts';
import { Longhaul } from '../../src/client/longhaul.ts';
import type { Memory, MemoryStore, MemoryVersion } from '../../src/schemas/api-memory.ts';
import { openApiStores } from '../../src/store/open-api-stores.ts';
import { SessionStore } from '../../src/store/session-store.ts';
import { storeBackends } from '../support/store-backends.ts';

// Our response types must be assignable to the SDK's: a drift in a field fails typechecking.
const sdkShapes = {
  store: (s: MemoryStore): BetaManagedAgentsMemoryStore => s,
  memory: (m: Memory): BetaManagedAgentsMemory => m,
  version: (v: MemoryVersion): BetaManagedAgentsMemoryVersion => v,
};
void sdkShapes;

const API_KEY = 'lh-test-key-memory-0123456789';
const API_KEY_ID = `apikey_${createHash('sha256').update(API_KEY).digest('hex').slice(0, 24)}`;
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The envelope of a refused call: status, error type, message, and any extra fields of the error object. */
async function refusal(call: Promise<unknown>): Promise<{ status: number; type: string; message: string; error: Record<string, unknown> }> {
  const error = (await call.then(
    () => assert.fail('the call succeeded'),
    (e: unknown) => e,
  )) as { status: number; error: { error: Record<string, unknown> & { type: string; message: string } } };
  return { status: error.status, type: error.error.error.type, message: error.error.error.message, error: error.error.error };
}

const backends = storeBackends();

for (const [backend, openDriver] of Object.entries(backends)) {
  describe(backend, () => {
    let client: Anthropic;
    let api: ServedApi;
    let close: () => Promise<void>;
    before(async () => {
      // Memory routes never reach Temporal: the Longhaul client's connection is lazy and stays unused.
      const driver = await openDriver();
      const store = await SessionStore.open(driver);
      const stores = await openApiStores(driver);
      const longhaul = new Longhaul({ client: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }), store });
      api = await serveApi({ app: createApiApp({ longhaul, store, ...stores, apiKeys: [API_KEY], onInternalError: () => {} }), port: 0 });
      client = new Anthropic({ baseURL: api.url, apiKey: API_KEY, maxRetries: 0 });
      close = async () => {
        await api.close();
        await store.close();
      };
    });
    after(async () => {
      await close();
    });

    test('memory stores: create, retrieve, update with a metadata patch, list, archive (read-only), delete', async () => {
      const created = await client.beta.memoryStores.create({ name: 'team notes', description: 'what we learned', metadata: { team: 'core', keep: 'yes' } });
      assert.match(created.id, /^memstore_011C[0-9A-Za-z]{20}$/);
      assert.deepEqual(await client.beta.memoryStores.retrieve(created.id), created);
      const updated = await client.beta.memoryStores.update(created.id, { name: 'notes', metadata: { team: null, owner: 'sam' } });
      assert.deepEqual([updated.name, updated.description, updated.metadata], ['notes', 'what we learned', { keep: 'yes', owner: 'sam' }]);
      const other = await client.beta.memoryStores.create({ name: 'other' });
      assert.equal(other.description, '');
      const listed: string[] = [];
      for await (const s of client.beta.memoryStores.list({ limit: 1 })) listed.push(s.id);
      assert.deepEqual(listed.slice(0, 2), [other.id, created.id]);

      const archived = await client.beta.memoryStores.archive(other.id);
      assert.ok(archived.archived_at);
      const live: string[] = [];
      for await (const s of client.beta.memoryStores.list()) live.push(s.id);
      assert.ok(!live.includes(other.id));
      const all: string[] = [];
      for await (const s of client.beta.memoryStores.list({ include_archived: true })) all.push(s.id);
      assert.ok(all.includes(other.id));
      const readOnly = await refusal(client.beta.memoryStores.memories.create(other.id, { path: '/x.md', content: 'x' }));
      assert.deepEqual([readOnly.status, readOnly.type], [409, 'conflict_error']);
      assert.match(readOnly.message, /archived/);

      assert.deepEqual(await client.beta.memoryStores.delete(other.id), { id: other.id, type: 'memory_store_deleted' });
      assert.equal((await refusal(client.beta.memoryStores.retrieve(other.id))).status, 404);
    });

    test('memories: paths and sizes checked, views, rename, preconditions, path conflicts, delete; every change a version by its actor', async () => {
      const store = await client.beta.memoryStores.create({ name: 'memories' });
      const memories = client.beta.memoryStores.memories;

      for (const [path, why] of [
        ['notes.md', /path: must start with "\/"/],
        ['/a//b.md', /path: must not have an empty segment/],
        ['/a/', /path: must not have an empty segment/],
        ['/a/../b.md', /path: must not have "\." or "\.\." segments/],
        [`/${Array.from({ length: 21 }, (_, i) => `d${i}`).join('/')}`, /path: must have 1 to 20 segments/],
        [`/${'x'.repeat(1024)}`, /path: must be at most 1024 bytes/],
        ['/cafe\u0301.md', /path: must be in Unicode Normalization Form C/],
        ['/bell\u0007.md', /path: must not hold control or format characters/],
      ] as const) {
        const refused = await refusal(memories.create(store.id, { path, content: 'x' }));
        assert.deepEqual([refused.status, refused.type], [400, 'invalid_request_error'], path);
        assert.match(refused.message, why);
      }
      const tooBig = await refusal(memories.create(store.id, { path: '/big.md', content: 'é'.repeat(51_201) }));
      assert.match(tooBig.message, /^content: must be at most 102400 bytes of UTF-8/);
      await memories.create(store.id, { path: '/fits.md', content: 'x'.repeat(102_400) });

      const content = 'Deploys go out on Tuesdays.\n';
      const created = await memories.create(store.id, { path: '/team/process.md', content });
      assert.match(created.id, /^mem_011C/);
      assert.deepEqual(
        { path: created.path, content: created.content, sha: created.content_sha256, size: created.content_size_bytes },
        { path: '/team/process.md', content: null, sha: sha256(content), size: Buffer.byteLength(content) },
        'create answers with view basic',
      );
      assert.equal((await memories.retrieve(created.id, { memory_store_id: store.id })).content, content, 'retrieve defaults to full');
      assert.equal((await memories.retrieve(created.id, { memory_store_id: store.id, view: 'basic' })).content, null);

      const clash = await refusal(memories.create(store.id, { path: '/team/process.md', content: 'again' }));
      assert.deepEqual([clash.status, clash.type, clash.error['conflicting_memory_id'], clash.error['conflicting_path']], [409, 'memory_path_conflict_error', created.id, '/team/process.md']);

      const stale = await refusal(memories.update(created.id, { memory_store_id: store.id, content: 'x', precondition: { type: 'content_sha256', content_sha256: sha256('something else') } }));
      assert.deepEqual([stale.status, stale.type], [409, 'memory_precondition_failed_error']);
      const edited = await memories.update(created.id, { memory_store_id: store.id, content: 'Deploys go out on Wednesdays.\n', precondition: { type: 'content_sha256', content_sha256: sha256(content) }, view: 'full' });
      assert.equal(edited.content, 'Deploys go out on Wednesdays.\n');
      assert.notEqual(edited.memory_version_id, created.memory_version_id);
      const renamed = await memories.update(created.id, { memory_store_id: store.id, path: '/team/release-process.md' });
      assert.deepEqual([renamed.id, renamed.path, renamed.content_sha256], [created.id, '/team/release-process.md', edited.content_sha256], 'a rename keeps the id and the content');
      const second = await memories.create(store.id, { path: '/team/people.md', content: 'sam, ada' });
      const renameClash = await refusal(memories.update(second.id, { memory_store_id: store.id, path: '/team/release-process.md' }));
      assert.equal(renameClash.type, 'memory_path_conflict_error');

      const wrongDelete = await refusal(memories.delete(second.id, { memory_store_id: store.id, expected_content_sha256: sha256('nope') }));
      assert.equal(wrongDelete.type, 'memory_precondition_failed_error');
      assert.deepEqual(await memories.delete(second.id, { memory_store_id: store.id, expected_content_sha256: sha256('sam, ada') }), { id: second.id, type: 'memory_deleted' });
      assert.equal((await refusal(memories.retrieve(second.id, { memory_store_id: store.id }))).status, 404);

      // The history: newest first, each by the API key that made it, filterable.
      const versions = client.beta.memoryStores.memoryVersions;
      const history: MemoryVersion[] = [];
      for await (const v of versions.list(store.id, { memory_id: created.id })) history.push(v as MemoryVersion);
      assert.deepEqual(history.map((v) => [v.operation, v.path]), [
        ['modified', '/team/release-process.md'],
        ['modified', '/team/process.md'],
        ['created', '/team/process.md'],
      ]);
      for (const v of history) {
        assert.deepEqual(v.created_by, { type: 'api_actor', api_key_id: API_KEY_ID });
        assert.equal(v.content, null, 'list defaults to basic');
      }
      assert.equal(history[0]!.id, renamed.memory_version_id);
      const deletions = (await versions.list(store.id, { operation: 'deleted' })).data;
      assert.deepEqual(deletions.map((v) => [v.memory_id, v.content_sha256]), [[second.id, null]]);
      assert.equal((await versions.list(store.id, { api_key_id: 'apikey_other' })).data.length, 0);
      // No service account writes here: the filter matches nothing rather than being ignored.
      assert.equal((await versions.list(store.id, { service_account_id: 'svac_anyone' })).data.length, 0);
      await assert.rejects(versions.list('memstore_missing', { service_account_id: 'svac_anyone' }), (error: Error & { status?: number }) => error.status === 404);
      assert.equal((await versions.retrieve(history[2]!.id, { memory_store_id: store.id })).content, content, 'retrieve defaults to full');

      // Redaction: the content goes everywhere, the metadata stays; the live version cannot be redacted.
      const redacted = await versions.redact(history[2]!.id, { memory_store_id: store.id });
      assert.deepEqual([redacted.content, redacted.content_sha256, redacted.path, redacted.operation], [null, null, '/team/process.md', 'created']);
      assert.ok(redacted.redacted_at);
      assert.deepEqual(redacted.redacted_by, { type: 'api_actor', api_key_id: API_KEY_ID });
      assert.equal((await versions.retrieve(history[2]!.id, { memory_store_id: store.id, view: 'full' })).content, null);
      const full: MemoryVersion[] = [];
      for await (const v of versions.list(store.id, { memory_id: created.id, view: 'full' })) full.push(v as MemoryVersion);
      assert.equal(full.find((v) => v.id === history[2]!.id)?.content, null);
      const liveOne = await refusal(versions.redact(renamed.memory_version_id, { memory_store_id: store.id }));
      assert.deepEqual([liveOne.status, liveOne.type], [409, 'conflict_error']);
    });

    test('listing: by path, under a prefix, a depth with memory_prefix folders, page by page', async () => {
      const store = await client.beta.memoryStores.create({ name: 'tree' });
      const paths = ['/a.md', '/docs/x.md', '/docs/y/z.md', '/docs0.md', '/e/f/g/h.md', '/notes/one.md', '/notes/two.md', '/notes-archive/old.md'];
      for (const path of [...paths].reverse()) await client.beta.memoryStores.memories.create(store.id, { path, content: `content of ${path}` });
      const list = async (params: { path_prefix?: string; depth?: number; limit?: number; view?: 'basic' | 'full' }) => {
        const items: (BetaManagedAgentsMemory | BetaManagedAgentsMemoryPrefix)[] = [];
        for await (const item of client.beta.memoryStores.memories.list(store.id, params)) items.push(item);
        return items;
      };
      const show = (items: (BetaManagedAgentsMemory | BetaManagedAgentsMemoryPrefix)[]) => items.map((i) => (i.type === 'memory_prefix' ? `${i.path}…` : i.path));

      assert.deepEqual(show(await list({})), [...paths].sort(), 'every memory, by path (bytewise)');
      assert.deepEqual(show(await list({ limit: 3 })), [...paths].sort(), 'the same, three a page');
      assert.deepEqual(show(await list({ path_prefix: '/notes/' })), ['/notes/one.md', '/notes/two.md'], 'whole segments: not /notes-archive/');
      assert.deepEqual(show(await list({ depth: 1 })), ['/a.md', '/docs/…', '/docs0.md', '/e/…', '/notes/…', '/notes-archive/…'].sort());
      assert.deepEqual(show(await list({ depth: 1, limit: 2 })), show(await list({ depth: 1 })), 'folders page like memories, none twice');
      assert.deepEqual(show(await list({ path_prefix: '/docs/', depth: 1 })), ['/docs/x.md', '/docs/y/…']);
      assert.deepEqual(show(await list({ path_prefix: '/e/', depth: 2 })), ['/e/f/g/…']);
      const full = await list({ path_prefix: '/notes/', view: 'full' });
      assert.deepEqual(full.map((m) => m.type === 'memory' && m.content), ['content of /notes/one.md', 'content of /notes/two.md']);
      assert.ok((await list({})).every((m) => m.type === 'memory' && m.content === null), 'list defaults to basic');
      assert.equal((await refusal(client.beta.memoryStores.memories.list(store.id, { path_prefix: 'notes' }))).status, 400);
      assert.equal((await refusal(client.beta.memoryStores.memories.list('memstore_missing'))).status, 404);
    });
  });
}
