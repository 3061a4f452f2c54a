import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { MemoryApply, MemoryApplyResult, MemoryFileRef, MemoryManifest, MemoryRejection, MemoryScan, ToolOutcome } from './types.ts';

/** The executor could not be reached, or the connection closed before it answered. */
export class ExecutorConnectionError extends Error {
  override readonly name = 'ExecutorConnectionError';
  /** The Node error code when there is one (`ENOENT`, `ECONNREFUSED`, …). */
  readonly code: string | undefined;
  constructor(message: string, options: { code?: string | undefined; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = options.code;
  }
}

/** The executor refused a request (malformed, or it could not journal the call). */
export class ExecutorRequestError extends Error {
  override readonly name = 'ExecutorRequestError';
  readonly type: string;
  constructor(type: string, message: string) {
    super(message);
    this.type = type;
  }
}

export type ExecutorPing = { pong: true; protocol: number; boot_id: string; pid: number; uid: number };

export type ExecutorRunOptions = {
  toolUseId: string;
  name: string;
  input: Record<string, unknown>;
  /** Limit for the call when the tool input has none; the executor's default (120 s) otherwise. */
  timeoutMs?: number | undefined;
  /** The bash shell the call runs in: one per thread of a multi-agent session (default: the sandbox's first). */
  shell?: string | undefined;
  /**
   * Aborting sends `cancel` for the call. The promise still settles with the executor's
   * answer: normally an `is_error` "interrupted" outcome (or the real result, when the
   * call finished first), so the recorded effect and the returned one agree.
   */
  signal?: AbortSignal | undefined;
};

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

type Reply = { id: number; ok: boolean; result?: unknown; error?: { type?: string; message?: string } };

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Largest reply line accepted. Tool output is capped far below this by the executor
 * (100 KB per call by default); anything bigger means the other end is not our executor.
 */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** How long past its own time limit a tool call may take to be answered. */
const RUN_GRACE_MS = 30_000;
/** The executor's own default limit for a call, when neither request nor input sets one. */
const EXECUTOR_DEFAULT_TIMEOUT_MS = 120_000;
/** A memory scan or apply: thousands of small files, read or written in a thread of the executor. */
const MEMORY_TIMEOUT_MS = 60_000;
/** Cancel and other bookkeeping requests. */
const CONTROL_TIMEOUT_MS = 10_000;

/**
 * Client of the in-sandbox executor's protocol: newline-delimited JSON over a Unix
 * socket. One connection carries any number of concurrent calls (replies are matched by
 * request id); it is opened on first use and again after it closes. An idle client does
 * not keep the process alive.
 *
 * The other end is inside a hostile sandbox, so nothing it sends is trusted: a reply
 * line is capped at {@link MAX_REPLY_BYTES} (past it the connection is dropped), every
 * request has a deadline, and replies are parsed, not cast.
 *
 * @example
 * const client = new ExecutorClient({ socketPath: join(driver.sessionDir('sesn_1'), 'exec.sock') });
 * const outcome = await client.run({ toolUseId: 'toolu_1', name: 'bash', input: { command: 'ls' } });
 * client.close();
 */
export class ExecutorClient {
  readonly socketPath: string;
  readonly #runGraceMs: number;
  readonly #controlTimeoutMs: number;
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  /**
   * The connection outlives the call that opens it, and a socket keeps the async context it
   * was made in (a Temporal activity's holds the activity) for its whole life: it is made in
   * the client's own.
   */
  readonly #inOwnContext = AsyncLocalStorage.snapshot();

  constructor({
    socketPath,
    runGraceMs = RUN_GRACE_MS,
    controlTimeoutMs = CONTROL_TIMEOUT_MS,
  }: {
    socketPath: string;
    /** How long past its own time limit a tool call may take to be answered. Default 30 000. */
    runGraceMs?: number;
    /** Deadline of a cancel. Default 10 000. */
    controlTimeoutMs?: number;
  }) {
    this.socketPath = socketPath;
    this.#runGraceMs = runGraceMs;
    this.#controlTimeoutMs = controlTimeoutMs;
  }

  /** Runs a tool call, or re-attaches to it, or gets its recorded result: the executor decides. */
  async run({ toolUseId, name, input, timeoutMs, shell, signal }: ExecutorRunOptions): Promise<ToolOutcome> {
    signal?.throwIfAborted();
    const reply = this.#request(
      {
        op: 'run',
        tool_use_id: toolUseId,
        name,
        input,
        ...(timeoutMs !== undefined ? { timeout_ms: timeoutMs } : {}),
        ...(shell ? { shell } : {}),
      },
      runDeadlineMs(input, timeoutMs, this.#runGraceMs),
    );
    const onAbort = (): void => {
      this.cancel(toolUseId).catch(() => {
        // The run's own promise reports a lost connection.
      });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return parseOutcome(await reply);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Asks the executor to kill a running call; false when it was not running. */
  async cancel(toolUseId: string): Promise<boolean> {
    const result = await this.#request({ op: 'cancel', tool_use_id: toolUseId }, this.#controlTimeoutMs);
    return isObject(result) && result['cancelled'] === true;
  }

  /** The files under the memory mounts that differ from `known` (see `memory_sync.py`). */
  async scanMemory(known: MemoryManifest): Promise<MemoryScan> {
    return parseMemoryScan(await this.#request({ op: 'memory_scan', known }, MEMORY_TIMEOUT_MS));
  }

  /** Writes and deletes memory files, each only if the file still has the expected sha256. */
  async applyMemory({ writes, deletes }: MemoryApply): Promise<MemoryApplyResult> {
    const reply = await this.#request(
      {
        op: 'memory_apply',
        writes: writes.map((w) => ({ store: w.store, path: w.path, content: w.content, expect_sha256: w.expectSha256 })),
        deletes: deletes.map((d) => ({ store: d.store, path: d.path, expect_sha256: d.expectSha256 })),
      },
      MEMORY_TIMEOUT_MS,
    );
    if (!isObject(reply) || !Array.isArray(reply['skipped'])) throw new ExecutorRequestError('bad_reply', 'executor returned a malformed memory_apply reply');
    return { skipped: reply['skipped'].map(parseFileRef) };
  }

  /** Resolves when the executor answers; rejects with {@link ExecutorConnectionError} otherwise. */
  async ping({ timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<ExecutorPing> {
    const started = Date.now();
    const connected = this.#connection();
    let timer: NodeJS.Timeout | undefined;
    const connectTimeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ExecutorConnectionError(`executor did not answer ping within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([connected, connectTimeout]);
    } finally {
      clearTimeout(timer);
    }
    return parsePing(await this.#request({ op: 'ping' }, Math.max(1, timeoutMs - (Date.now() - started))));
  }

  /**
   * Whether a connection to the executor is open. A connection is to one executor process:
   * it closes when that process exits or its container is removed, so an open one is to
   * the executor it was made to (a replacement's socket needs a new connection).
   */
  get connected(): boolean {
    return !this.#closed && this.#socket !== undefined && !this.#socket.destroyed;
  }

  /** Closes the connection; pending calls reject (their executions go on in the sandbox). */
  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
    this.#failAll(new ExecutorConnectionError('executor client closed'));
  }

  async #request(body: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.#closed) throw new ExecutorConnectionError('executor client closed');
    const socket = await this.#connection();
    const id = this.#nextId++;
    const line = `${JSON.stringify({ id, ...body })}\n`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#pending.delete(id)) return;
        if (this.#pending.size === 0) this.#socket?.unref();
        reject(new ExecutorConnectionError(`executor at ${this.socketPath} did not answer ${String(body['op'])} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve, reject, timer });
      socket.ref();
      socket.write(line);
    });
  }

  #connection(): Promise<Socket> {
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    if (this.#connecting) return this.#connecting;
    const notSocket = notASocket(this.socketPath);
    if (notSocket !== undefined) {
      // Missing: the executor has not bound it yet (waitForExecutor polls for that), no connect needed to know.
      const code = notSocket === MISSING ? 'ENOENT' : 'ENOTSOCK';
      return Promise.reject(new ExecutorConnectionError(`cannot connect to the executor at ${this.socketPath}: ${notSocket}`, { code }));
    }
    this.#connecting = new Promise<Socket>((resolve, reject) => {
      const socket = this.#inOwnContext(() => connect({ path: connectablePath(this.socketPath) }));
      const onError = (error: NodeJS.ErrnoException): void => {
        this.#connecting = undefined;
        reject(
          new ExecutorConnectionError(`cannot connect to the executor at ${this.socketPath}: ${error.message}`, {
            code: error.code,
            cause: error,
          }),
        );
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        this.#connecting = undefined;
        this.#attach(socket);
        resolve(socket);
      });
    });
    return this.#connecting;
  }

  #attach(socket: Socket): void {
    this.#socket = socket;
    let failure: Error | undefined;
    const lines = new LineSplitter(MAX_REPLY_BYTES);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const line of lines.push(chunk)) this.#settle(line);
      } catch (error) {
        failure = error as Error;
        socket.destroy();
      }
    });
    socket.on('error', (error) => {
      failure = error;
    });
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
      this.#failAll(
        new ExecutorConnectionError(
          `connection to the executor at ${this.socketPath} closed${failure ? `: ${failure.message}` : ''}`,
          { code: (failure as NodeJS.ErrnoException | undefined)?.code, cause: failure },
        ),
      );
    });
  }

  #settle(line: string): void {
    if (line.trim() === '') return;
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch {
      // A garbled line means the stream is out of sync: start over on a new connection.
      this.#socket?.destroy();
      return;
    }
    if (!isObject(reply) || typeof reply.id !== 'number') return;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (this.#pending.size === 0) this.#socket?.unref();
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(new ExecutorRequestError(reply.error?.type ?? 'unknown', reply.error?.message ?? 'executor error'));
  }

  #failAll(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const { reject, timer } of pending) {
      clearTimeout(timer);
      reject(error);
    }
  }
}

/**
 * Splits a byte stream into UTF-8 lines without holding more than `maxLineBytes` of an
 * unfinished line: past that it throws, and the caller drops the connection. Each byte
 * is looked at once (chunks are kept as they come, joined only when a line ends).
 */
export class LineSplitter {
  readonly #maxLineBytes: number;
  #parts: Buffer[] = [];
  #length = 0;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(10); newline >= 0; newline = chunk.indexOf(10, start)) {
      this.#append(chunk.subarray(start, newline));
      lines.push(Buffer.concat(this.#parts, this.#length).toString('utf8'));
      this.#parts = [];
      this.#length = 0;
      start = newline + 1;
    }
    this.#append(chunk.subarray(start));
    return lines;
  }

  #append(part: Buffer): void {
    if (part.length === 0) return;
    this.#length += part.length;
    if (this.#length > this.#maxLineBytes) {
      this.#parts = [];
      this.#length = 0;
      throw new ExecutorConnectionError(`executor reply line exceeds ${this.#maxLineBytes} bytes; dropped the connection`, {
        code: 'EMSGSIZE',
      });
    }
    this.#parts.push(part);
  }
}

const MISSING = 'it does not exist (yet)';

/** Why `path` must not be connected to (missing, a link, or not a socket), or undefined when it may. */
function notASocket(path: string): string | undefined {
  try {
    // No exception for a missing file: while a container starts this is polled every few milliseconds.
    const info = lstatSync(path, { throwIfNoEntry: false });
    if (info === undefined) return MISSING;
    if (info.isSymbolicLink()) return 'it is a symbolic link';
    if (!info.isSocket()) return 'it is not a socket';
    return undefined;
  } catch {
    // Unreadable (a folder on the way removed): connecting would fail the same way.
    return undefined;
  }
}

/** A run's deadline: the call's own limit (input, request or the executor's default) plus a grace. */
function runDeadlineMs(input: Record<string, unknown>, timeoutMs: number | undefined, graceMs: number): number {
  const own = input['timeout_ms'];
  const limit = typeof own === 'number' && Number.isFinite(own) && own > 0 ? own : (timeoutMs ?? EXECUTOR_DEFAULT_TIMEOUT_MS);
  // setTimeout takes at most 2^31-1 ms; a longer limit waits that long.
  return Math.min(limit + graceMs, 2 ** 31 - 1);
}

const REJECTIONS = new Set<MemoryRejection>(['too_large', 'not_utf8', 'bad_path', 'not_regular']);

function parseFileRef(value: unknown): MemoryFileRef {
  if (!isObject(value) || typeof value['store'] !== 'string' || typeof value['path'] !== 'string') {
    throw new ExecutorRequestError('bad_reply', 'executor returned a malformed memory file');
  }
  return { store: value['store'], path: value['path'] };
}

/** A scan reply, checked field by field: it comes from inside the sandbox. */
function parseMemoryScan(value: unknown): MemoryScan {
  const lists = isObject(value) ? [value['changed'], value['deleted'], value['rejected']] : [];
  if (!isObject(value) || !lists.every(Array.isArray) || typeof value['truncated'] !== 'boolean') {
    throw new ExecutorRequestError('bad_reply', 'executor returned a malformed memory_scan reply');
  }
  const [changed, deleted, rejected] = lists as unknown[][];
  return {
    changed: changed!.map((entry) => {
      const ref = parseFileRef(entry);
      const { sha256, content } = entry as Record<string, unknown>;
      if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256) || typeof content !== 'string') throw new ExecutorRequestError('bad_reply', 'executor returned a malformed changed memory file');
      return { ...ref, sha256, content };
    }),
    deleted: deleted!.map(parseFileRef),
    rejected: rejected!.map((entry) => {
      // The ref first: it throws the protocol error for a non-object.
      const ref = parseFileRef(entry);
      const reason = (entry as Record<string, unknown>)['reason'];
      if (!REJECTIONS.has(reason as MemoryRejection)) throw new ExecutorRequestError('bad_reply', 'executor returned a malformed rejected memory file');
      return { ...ref, reason: reason as MemoryRejection };
    }),
    truncated: value['truncated'],
  };
}

function parsePing(value: unknown): ExecutorPing {
  if (!isObject(value) || value['pong'] !== true || typeof value['boot_id'] !== 'string') {
    throw new ExecutorRequestError('bad_reply', 'executor returned a malformed ping');
  }
  return value as ExecutorPing;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The executor's result is checked, not cast: it crossed a process boundary. */
function parseOutcome(value: unknown): ToolOutcome {
  if (!isObject(value) || typeof value['is_error'] !== 'boolean' || !Array.isArray(value['content'])) {
    throw new ExecutorRequestError('bad_reply', `executor returned a malformed outcome: ${JSON.stringify(value)}`);
  }
  const content = value['content'].map((block: unknown) => {
    if (!isObject(block) || block['type'] !== 'text' || typeof block['text'] !== 'string') {
      throw new ExecutorRequestError('bad_reply', `executor returned a malformed content block: ${JSON.stringify(block)}`);
    }
    return { type: 'text' as const, text: block['text'] };
  });
  const full = value['disk_full'];
  const exitCode = value['exit_code'];
  return {
    content,
    is_error: value['is_error'],
    ...(isObject(full) && Number.isSafeInteger(full['size_bytes']) && Number.isSafeInteger(full['free_bytes'])
      ? { disk_full: { size_bytes: full['size_bytes'] as number, free_bytes: full['free_bytes'] as number } }
      : {}),
    // An integer in a shell's range, or nothing: the sandbox writes this reply.
    ...(Number.isSafeInteger(exitCode) && (exitCode as number) >= 0 && (exitCode as number) <= 255 ? { exit_code: exitCode as number } : {}),
  };
}

/**
 * A path to the socket short enough for `connect`. Unix socket paths are limited to
 * 107 bytes; a deep data folder goes through a symlink in the temp folder instead.
 */
export function connectablePath(socketPath: string): string {
  if (Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH_BYTES) return socketPath;
  const folder = dirname(socketPath);
  const link = join(tmpdir(), `longhaul-${createHash('sha256').update(folder).digest('hex').slice(0, 16)}`);
  let current: string | undefined;
  try {
    current = readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current !== folder) {
    if (current !== undefined) unlinkSync(link);
    mkdirSync(tmpdir(), { recursive: true });
    symlinkSync(folder, link);
  }
  return join(link, basename(socketPath));
}
