import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import Anthropic, { BadRequestError, NotFoundError, toFile } from '@anthropic-ai/sdk';
import { getContainerRuntimeClient } from 'testcontainers';
import type { BetaFileMetadata } from '@anthropic-ai/sdk/resources/beta/files';
import type { BetaManagedAgentsFileResource } from '@anthropic-ai/sdk/resources/beta/sessions/resources';
import type { MessageCreateParams } from '@anthropic-ai/sdk/resources/messages';
import type { ServedApi } from '../../src/api/serve-api.ts';
import type { FileMetadata, FileResource } from '../../src/schemas/api-file.ts';
import type { ApiStores } from '../../src/store/open-api-stores.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { findSessionContainers } from '../../sandbox/docker-sandbox-driver.ts';
import { lastToolResults, text, toolUse, type ScriptedTurn } from '../../src/testing/index.ts';
import { bashInSandbox, startTestTemporal, type Harness } from '../support/harness.ts';
import { API_KEY, startApiFixture, type ApiFixture } from './api-fixture.ts';

// Our response types must be assignable to the SDK's: a drift in a field fails typechecking.
const sdkShapes = {
  file: (f: FileMetadata): BetaFileMetadata => f,
  resource: (r: FileResource): BetaManagedAgentsFileResource => r,
};
void sdkShapes;

const MAX_FILE_BYTES = 1024 * 1024;

/** The agent runs `cat` on the path named in the task (or the command after `run: `), then repeats what it saw. */
function catScript(request: MessageCreateParams): ScriptedTurn {
  const step = request.messages.filter((m) => m.role === 'assistant').length;
  const first = request.messages[0]?.content;
  const task = typeof first === 'string' ? first : (first ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
  const command = /run: (.+)$/s.exec(task)?.[1] ?? `cat ${/cat (\S+)/.exec(task)?.[1] ?? '/nonexistent'}`;
  if (step === 0) return { content: [toolUse('bash', { command })] };
  return { content: [text(`saw: ${lastToolResults(request).map((r) => r.text).join('\n')}`)] };
}

let temporal: DevServer;
let fixture: ApiFixture;
let harness: Harness;
let stores: ApiStores;
let api: ServedApi;
let client: Anthropic;

before(async () => {
  temporal = await startTestTemporal();
  fixture = await startApiFixture({ temporal, script: catScript, files: { maxFileBytes: MAX_FILE_BYTES } });
  ({ harness, stores, api, client } = fixture);
});

after(async () => {
  await fixture[Symbol.asyncDispose]();
  await temporal.stop();
});

test('files: upload, retrieve, download the same bytes, delete then 404', async () => {
  const bytes = Buffer.from([0, 1, 2, 255, 10, 13, 0x7f, ...Buffer.from('héllo wörld')]);
  const uploaded = await client.beta.files.upload({ file: await toFile(bytes, 'dir/../nested/report ü.bin', { type: 'application/x-custom' }) });
  assert.match(uploaded.id, /^file_011C/);
  assert.deepEqual(
    { type: uploaded.type, filename: uploaded.filename, mime_type: uploaded.mime_type, size_bytes: uploaded.size_bytes, downloadable: uploaded.downloadable, expires_at: uploaded.expires_at, scope: uploaded.scope },
    { type: 'file', filename: 'report ü.bin', mime_type: 'application/x-custom', size_bytes: bytes.length, downloadable: true, expires_at: null, scope: null },
  );
  assert.ok(!Number.isNaN(Date.parse(uploaded.created_at)));
  assert.deepEqual(await client.beta.files.retrieveMetadata(uploaded.id), uploaded);

  const response = await client.beta.files.download(uploaded.id);
  assert.equal(response.headers.get('content-type'), 'application/x-custom');
  assert.equal(response.headers.get('content-disposition'), `attachment; filename="report _.bin"; filename*=UTF-8''report%20%C3%BC.bin`);
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);

  const deleted = await client.beta.files.delete(uploaded.id);
  assert.deepEqual(deleted, { id: uploaded.id, type: 'file_deleted' });
  for (const call of [() => client.beta.files.retrieveMetadata(uploaded.id), () => client.beta.files.download(uploaded.id), () => client.beta.files.delete(uploaded.id)]) {
    const error = await call().catch((e: unknown) => e);
    assert.ok(error instanceof NotFoundError, String(error));
    assert.match(error.message, new RegExp(`file ${uploaded.id} not found`));
  }
  const left = [];
  for await (const chunk of stores.files.readContent(uploaded.id)) left.push(chunk);
  assert.deepEqual(left, [], 'the bytes are gone with the file');

  const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  assert.ok(['/v1/files', '/v1/files/{file_id}', '/v1/files/{file_id}/content', '/v1/sessions/{session_id}/resources/{resource_id}'].every((p) => p in doc.paths));
});

test('files: list pages newest first; ids[] picks files; expiry is upload time plus expires_in_seconds', async () => {
  const made: BetaFileMetadata[] = [];
  for (const name of ['a.txt', 'b.csv', 'c.json', 'd.md', 'e.txt']) made.push(await client.beta.files.upload({ file: await toFile(Buffer.from(name), name) }));
  assert.deepEqual(made.map((f) => f.mime_type), ['text/plain', 'text/csv', 'application/json', 'text/markdown', 'text/plain']);

  const first = await client.beta.files.list({ limit: 2 });
  assert.equal(first.data.length, 2);
  assert.ok(first.next_page);
  const seen: string[] = [];
  for await (const file of client.beta.files.list({ limit: 2 })) seen.push(file.id);
  const ours = made.map((f) => f.id).reverse();
  assert.deepEqual(seen.filter((id) => ours.includes(id)), ours, 'every page in order, newest first, none twice');
  assert.equal(new Set(seen).size, seen.length);

  const picked = await client.beta.files.list({ ids: [made[1]!.id, made[3]!.id, 'file_011Cnosuchfile000000000'] });
  assert.deepEqual(picked.data.map((f) => f.id).sort(), [made[1]!.id, made[3]!.id].sort());
  assert.equal(picked.next_page, null);

  const expiring = await client.beta.files.upload({ file: await toFile(Buffer.from('x'), 'x.txt'), expires_in_seconds: 3600 });
  assert.equal(Date.parse(expiring.expires_at!) - Date.parse(expiring.created_at), 3_600_000);
  const tooShort = await client.beta.files.upload({ file: await toFile(Buffer.from('x'), 'x.txt'), expires_in_seconds: 60 }).catch((e: unknown) => e);
  assert.ok(tooShort instanceof BadRequestError, String(tooShort));
  assert.match(tooShort.message, /expires_in_seconds/);
});

test('files: empty names become unnamed.<ext>; a missing part and an oversized file are refused clearly', async () => {
  // With an empty name the SDK sends no filename, and the part parses as text without its type.
  const unnamed = await client.beta.files.upload({ file: await toFile(Buffer.from('{"a":1}'), '', { type: 'application/json' }) });
  assert.deepEqual([unnamed.filename, unnamed.mime_type, unnamed.size_bytes], ['unnamed', 'application/octet-stream', 7]);
  assert.equal(await (await client.beta.files.download(unnamed.id)).text(), '{"a":1}');

  const form = new FormData();
  form.set('expires_in_seconds', '3600');
  const missing = await fetch(`${api.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` }, body: form });
  assert.equal(missing.status, 400);
  assert.match(((await missing.json()) as { error: { message: string } }).error.message, /^file: Required/);

  const big = await client.beta.files.upload({ file: await toFile(Buffer.alloc(MAX_FILE_BYTES + 1), 'big.bin') }).catch((e: unknown) => e);
  assert.ok(big instanceof Anthropic.APIError && big.status === 413, String(big));
  assert.match(big.message, /larger than the 1048576 bytes/);
});

test('files: a body streamed without a length is stored as it arrives, and refused once past the limit', async () => {
  const post = (bytes: Buffer) => {
    const boundary = `----longhaul${Date.now()}`;
    const head = Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="streamed.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}\r\ncontent-disposition: form-data; name="expires_in_seconds"\r\n\r\n3600\r\n--${boundary}--\r\n`);
    const pieces = [head, ...Array.from({ length: Math.ceil(bytes.length / 50_000) }, (_, i) => bytes.subarray(i * 50_000, (i + 1) * 50_000)), tail];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = pieces.shift();
        if (next) controller.enqueue(new Uint8Array(next));
        else controller.close();
      },
    });
    return fetch(`${api.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, body, duplex: 'half' } as RequestInit);
  };
  const bytes = randomBytes(MAX_FILE_BYTES - 1000);
  const ok = await post(bytes);
  assert.equal(ok.status, 200, await ok.clone().text());
  const stored = (await ok.json()) as FileMetadata;
  assert.deepEqual([stored.filename, stored.size_bytes, stored.mime_type], ['streamed.bin', bytes.length, 'application/octet-stream']);
  assert.equal(Date.parse(stored.expires_at!) - Date.parse(stored.created_at), 3_600_000, 'a field after the file part still counts');
  assert.ok(Buffer.from(await (await client.beta.files.download(stored.id)).arrayBuffer()).equals(bytes));

  const before = (await stores.files.list({ limit: 1000 })).data.length;
  const tooBig = await post(randomBytes(MAX_FILE_BYTES + 1));
  assert.equal(tooBig.status, 413);
  assert.match(((await tooBig.json()) as { error: { message: string } }).error.message, /larger than the 1048576 bytes/);
  assert.equal((await stores.files.list({ limit: 1000 })).data.length, before, 'nothing recorded');
});

test('sessions: a file resource is in the sandbox before the agent first looks; resources list and retrieve', async () => {
  const content = `line one\nsecret-${Date.now()}\n`;
  const file = await client.beta.files.upload({ file: await toFile(Buffer.from(content), 'notes.txt') });
  const agent = await client.beta.agents.create({ name: 'reader', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: `files-${Date.now()}` });

  const unknown = await client.beta.sessions
    .create({ agent: agent.id, environment_id: environment.id, resources: [{ type: 'file', file_id: 'file_011Cnosuchfile000000000' }] })
    .catch((e: unknown) => e);
  assert.ok(unknown instanceof NotFoundError, String(unknown));
  assert.match(unknown.message, /resources\.0\.file_id: file file_011Cnosuchfile000000000 not found/);

  const outside = await client.beta.sessions
    .create({ agent: agent.id, environment_id: environment.id, resources: [{ type: 'file', file_id: file.id, mount_path: '/etc/passwd' }] })
    .catch((e: unknown) => e);
  assert.ok(outside instanceof BadRequestError, String(outside));
  assert.match(outside.message, /resources\.0\.mount_path/);

  const mountPath = '/workspace/data/notes.txt';
  const session = await client.beta.sessions.create({
    agent: agent.id,
    environment_id: environment.id,
    resources: [
      { type: 'file', file_id: file.id, mount_path: mountPath },
      { type: 'file', file_id: file.id },
    ],
    initial_events: [{ type: 'user.message', content: [{ type: 'text', text: `Please cat ${mountPath} for me.` }] }],
  });

  const resources = [];
  for await (const resource of client.beta.sessions.resources.list(session.id, { limit: 1 })) resources.push(resource);
  assert.equal(resources.length, 2);
  // Resources made by one create share created_at, so their order between them is by id.
  const mounted = resources.find((r) => r.type === 'file' && r.mount_path === mountPath) as BetaManagedAgentsFileResource | undefined;
  const defaulted = resources.find((r) => r !== mounted) as BetaManagedAgentsFileResource | undefined;
  assert.match(mounted!.id, /^sesrsc_011C/);
  assert.deepEqual([mounted!.type, mounted!.file_id, mounted!.mount_path], ['file', file.id, mountPath]);
  assert.equal(defaulted!.mount_path, `/mnt/session/uploads/${file.id}`);
  assert.deepEqual(await client.beta.sessions.resources.retrieve(mounted!.id, { session_id: session.id }), mounted);

  const events = await waitForIdle(session.id);
  const result = events.find((e) => e.type === 'agent.tool_result');
  assert.ok(result?.type === 'agent.tool_result');
  assert.equal(result.is_error, false);
  assert.match(JSON.stringify(result.content), new RegExp(content.split('\n')[1]!));
  const reply = events.filter((e) => e.type === 'agent.message').at(-1);
  assert.match(JSON.stringify(reply), /saw: line one/);
  // The default place, /mnt/session, is a volume of its own: the file is there, the agent's, and survives the container.
  const check = `cat /mnt/session/uploads/${file.id} && stat -c '%U' /mnt/session/uploads/${file.id}`;
  const inSandbox = () => bashInSandbox(harness, session.id, check);
  assert.equal((await inSandbox()).trim(), `${content}agent`);
  await harness.sandboxes.destroy(session.id, { removeVolume: false });
  assert.equal((await inSandbox()).trim(), `${content}agent`, 'a new container has the file');

  // Added later, it is there for the next turn; delete forgets the resource.
  const added = await client.beta.sessions.resources.add(session.id, { type: 'file', file_id: file.id, mount_path: 'later.txt' });
  assert.equal(added.mount_path, '/workspace/later.txt');
  await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'Now cat /workspace/later.txt' }] }] });
  const second = await waitForIdle(session.id, 2);
  const secondResult = second.filter((e) => e.type === 'agent.tool_result').at(-1);
  assert.ok(secondResult?.type === 'agent.tool_result' && !secondResult.is_error);
  assert.match(JSON.stringify(secondResult.content), /line one/);
  assert.deepEqual(await client.beta.sessions.resources.delete(added.id, { session_id: session.id }), { id: added.id, type: 'session_resource_deleted' });
  const gone = await client.beta.sessions.resources.retrieve(added.id, { session_id: session.id }).catch((e: unknown) => e);
  assert.ok(gone instanceof NotFoundError, String(gone));
});

test('sessions: without a first turn the files are copied into the container the session started with; given back, it leaves them in the volume', async () => {
  const file = await client.beta.files.upload({ file: await toFile(Buffer.from('kept in the volume\n'), 'kept.txt') });
  const agent = await client.beta.agents.create({ name: 'reader', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: `files-idle-${Date.now()}` });
  // Binary bytes at a path too long for a plain tar name (the copy splits it into prefix and name).
  const binary = randomBytes(70_000);
  const deep = `/workspace/${'d'.repeat(60)}/${'e'.repeat(60)}/blob.bin`;
  const blob = await client.beta.files.upload({ file: await toFile(binary, 'blob.bin') });
  const session = await client.beta.sessions.create({
    agent: agent.id,
    environment_id: environment.id,
    resources: [
      { type: 'file', file_id: file.id, mount_path: 'in/kept.txt' },
      { type: 'file', file_id: blob.id, mount_path: deep },
    ],
  });
  // The worker copies the files into the container the new session started, which waits for the first message.
  await waitForActivity(session.id, 'mountFiles');
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  assert.deepEqual((await findSessionContainers(docker, session.id)).map((c) => c.State), ['running'], 'the container waits for the first message');
  // Given back, as an idle session's is after idleSandboxReleaseMs: the next turn starts another on the same volume.
  await harness.sandboxes.destroy(session.id);
  assert.deepEqual(await findSessionContainers(docker, session.id), [], 'no container left');

  const command = `cat /workspace/in/kept.txt && sha256sum ${deep} && stat -c '%U %s' ${deep} && touch ${deep} && echo writable`;
  await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: `run: ${command}` }] }] });
  const events = await waitForIdle(session.id);
  const result = events.find((e) => e.type === 'agent.tool_result');
  assert.ok(result?.type === 'agent.tool_result' && !result.is_error, JSON.stringify(result));
  const output = JSON.stringify(result.content);
  assert.match(output, /kept in the volume/);
  assert.match(output, new RegExp(createHash('sha256').update(binary).digest('hex')), 'the bytes arrive unchanged');
  assert.match(output, /agent 70000/, 'owned by the sandbox user');
  assert.match(output, /writable/);
});

/** Resolves once the session's workflow has completed an activity of that name. */
async function waitForActivity(sessionId: string, name: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const history = await harness.client.workflow.getHandle(sessionId).fetchHistory();
    const scheduled = new Map<string, string | null | undefined>();
    for (const e of history.events ?? []) {
      if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name);
      if (e.activityTaskCompletedEventAttributes && scheduled.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId)) === name) return;
    }
    if (Date.now() > deadline) throw new Error(`session ${sessionId} ran no ${name}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The session's events once it has gone idle `turns` times. */
async function waitForIdle(sessionId: string, turns = 1, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = [];
    for await (const event of client.beta.sessions.events.list(sessionId, { limit: 1000 })) events.push(event);
    if (events.filter((e) => e.type === 'session.status_idle').length >= turns) return events;
    if (Date.now() > deadline) throw new Error(`session ${sessionId} did not go idle ${turns} times: ${events.map((e) => e.type).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
