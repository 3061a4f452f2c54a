import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import {
  connectablePath,
  ExecutorClient,
  ExecutorConnectionError,
  ExecutorRequestError,
  LineSplitter,
  MAX_REPLY_BYTES,
} from '../../sandbox/executor-client.ts';
import { contextOutlives } from '../support/unreachable.ts';

type Request = { id: number; op: string; tool_use_id?: string };

let dir: string;
let server: Server | undefined;
const sockets = new Set<Socket>();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'longhaul-client-'));
});

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A scripted executor: `answer` decides each reply (or none, to leave a call pending). */
async function fakeExecutor(path: string, answer: (request: Request, reply: (body: object) => void, socket: Socket) => void) {
  server = createServer((socket) => {
    sockets.add(socket);
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        const request = JSON.parse(buffer.slice(0, i)) as Request;
        buffer = buffer.slice(i + 1);
        answer(request, (body) => socket.write(`${JSON.stringify({ id: request.id, ...body })}\n`), socket);
      }
    });
  });
  await new Promise<void>((resolve) => server?.listen(connectablePath(path), resolve));
}

const outcome = (textValue: string) => ({ ok: true, result: { content: [{ type: 'text', text: textValue }], is_error: false } });

test('concurrent calls share one connection and get their own replies, in any order', async () => {
  const path = join(dir, 'exec.sock');
  const pending: Array<() => void> = [];
  let connections = 0;
  await fakeExecutor(path, (request, reply) => {
    pending.push(() => reply(outcome(request.tool_use_id ?? '')));
    if (pending.length === 2) for (const send of pending.reverse()) send();
  });
  server?.on('connection', () => connections++);
  const client = new ExecutorClient({ socketPath: path });
  const [a, b] = await Promise.all([
    client.run({ toolUseId: 'a', name: 'bash', input: {} }),
    client.run({ toolUseId: 'b', name: 'bash', input: {} }),
  ]);
  assert.equal(a.content[0]?.text, 'a');
  assert.equal(b.content[0]?.text, 'b');
  assert.equal(connections, 1);
  client.close();
});

test('the open connection does not keep the async context of the call that opened it', async () => {
  // A sandbox's client lives as long as its session; a Temporal activity's context must not.
  const path = join(dir, 'exec.sock');
  await fakeExecutor(path, (_request, reply) => reply(outcome('ok')));
  const client = new ExecutorClient({ socketPath: path });
  assert.equal(await contextOutlives(() => client.run({ toolUseId: 'a', name: 'bash', input: {} })), false);
  assert.equal(client.connected, true);
  client.close();
});

test('aborting sends cancel and resolves with what the executor answers', async () => {
  const path = join(dir, 'exec.sock');
  let runRequest: Request | undefined;
  let send: ((body: object) => void) | undefined;
  await fakeExecutor(path, (request, reply, socket) => {
    if (request.op === 'run') {
      runRequest = request;
      send = (body) => socket.write(`${JSON.stringify({ id: request.id, ...body })}\n`);
      return;
    }
    assert.equal(request.op, 'cancel');
    assert.equal(request.tool_use_id, 'slow');
    reply({ ok: true, result: { cancelled: true } });
    send?.({ ok: true, result: { content: [{ type: 'text', text: '[interrupted]' }], is_error: true } });
  });
  const client = new ExecutorClient({ socketPath: path });
  const controller = new AbortController();
  const running = client.run({ toolUseId: 'slow', name: 'bash', input: {}, signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(runRequest?.op, 'run');
  controller.abort();
  const result = await running;
  assert.equal(result.is_error, true);
  assert.equal(result.content[0]?.text, '[interrupted]');
  client.close();
});

test('a connection that closes mid-call rejects with ExecutorConnectionError; the client reconnects after', async () => {
  const path = join(dir, 'exec.sock');
  let drop = true;
  await fakeExecutor(path, (_request, reply, socket) => {
    if (drop) {
      drop = false;
      socket.destroy();
      return;
    }
    reply(outcome('second'));
  });
  const client = new ExecutorClient({ socketPath: path });
  await assert.rejects(client.run({ toolUseId: 'x', name: 'bash', input: {} }), ExecutorConnectionError);
  assert.equal((await client.run({ toolUseId: 'x', name: 'bash', input: {} })).content[0]?.text, 'second');
  client.close();
});

test('a missing socket is a connection error with its code', async () => {
  const client = new ExecutorClient({ socketPath: join(dir, 'nothing.sock') });
  const error = await client.ping({ timeoutMs: 500 }).catch((e: unknown) => e);
  assert.ok(error instanceof ExecutorConnectionError);
  assert.equal(error.code, 'ENOENT');
  client.close();
});

test('refusals and malformed outcomes are request errors, not connection errors', async () => {
  const path = join(dir, 'exec.sock');
  await fakeExecutor(path, (request, reply) => {
    if (request.tool_use_id === 'refused') reply({ ok: false, error: { type: 'bad_request', message: 'nope' } });
    else reply({ ok: true, result: { content: 'not-a-list', is_error: false } });
  });
  const client = new ExecutorClient({ socketPath: path });
  await assert.rejects(client.run({ toolUseId: 'refused', name: 'bash', input: {} }), ExecutorRequestError);
  await assert.rejects(client.run({ toolUseId: 'garbled', name: 'bash', input: {} }), /malformed outcome/);
  client.close();
});

test('socket paths too long for sun_path go through a short symlink', async () => {
  const deep = join(dir, 'a'.repeat(60), 'b'.repeat(60));
  const long = join(deep, 'exec.sock');
  assert.ok(Buffer.byteLength(long) > 107);
  const short = connectablePath(long);
  assert.ok(Buffer.byteLength(short) <= 107);
  assert.equal(connectablePath(long), short);
  assert.equal(connectablePath(join(dir, 'exec.sock')), join(dir, 'exec.sock'));
  await rm(dirname(short), { force: true });
});

// The other end of the socket is inside a hostile sandbox: these are what an agent that
// got hold of it could send.

test('a reply that streams without a newline is cut off at MAX_REPLY_BYTES, not buffered without limit', async () => {
  const path = join(dir, 'exec.sock');
  let sent = 0;
  await fakeExecutor(path, (_request, _reply, socket) => {
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const pump = (): void => {
      while (!socket.destroyed && sent <= MAX_REPLY_BYTES + 4 * chunk.length) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  const client = new ExecutorClient({ socketPath: path });
  const error = await client.run({ toolUseId: 'flood', name: 'bash', input: {} }).catch((e: unknown) => e);
  assert.ok(error instanceof ExecutorConnectionError, String(error));
  assert.equal(error.code, 'EMSGSIZE');
  client.close();
});

test('a run the other end never answers fails at its deadline (its own limit plus the grace)', async () => {
  const path = join(dir, 'exec.sock');
  await fakeExecutor(path, () => undefined);
  const client = new ExecutorClient({ socketPath: path, runGraceMs: 100, controlTimeoutMs: 100 });
  await assert.rejects(client.run({ toolUseId: 'silent', name: 'bash', input: { timeout_ms: 50 } }), /did not answer run within 150 ms/);
  await assert.rejects(client.cancel('silent'), /did not answer cancel within 100 ms/);
  client.close();
});

test('a symlink or a plain file where the socket should be is refused before connecting', async () => {
  const target = join(dir, 'real.sock');
  await fakeExecutor(target, (request, reply) => reply({ ok: true, result: { pong: true, boot_id: 'x' } }));
  const link = join(dir, 'link.sock');
  await symlink(target, link);
  const viaLink = await new ExecutorClient({ socketPath: link }).ping({ timeoutMs: 500 }).catch((e: unknown) => e);
  assert.ok(viaLink instanceof ExecutorConnectionError);
  assert.match(viaLink.message, /symbolic link/);
  const file = join(dir, 'file.sock');
  await writeFile(file, '');
  const viaFile = await new ExecutorClient({ socketPath: file }).ping({ timeoutMs: 500 }).catch((e: unknown) => e);
  assert.ok(viaFile instanceof ExecutorConnectionError);
  assert.match(viaFile.message, /not a socket/);
});

test('LineSplitter joins lines across chunks and refuses a line over its cap', () => {
  const lines = new LineSplitter(8);
  assert.deepEqual(lines.push(Buffer.from('ab')), []);
  assert.deepEqual(lines.push(Buffer.from('c\nde\nf')), ['abc', 'de']);
  assert.deepEqual(lines.push(Buffer.from('\n')), ['f']);
  assert.throws(() => lines.push(Buffer.from('123456789')), /exceeds 8 bytes/);
  // Multi-byte characters split across chunks come out whole.
  const euro = Buffer.from('€\n');
  assert.deepEqual([...lines.push(euro.subarray(0, 1)), ...lines.push(euro.subarray(1))], ['€']);
});
