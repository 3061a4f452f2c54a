import { createHash } from 'node:crypto';
import { mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { ToolOutcome } from './types.ts';

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
  /**
   * Aborting sends `cancel` for the call. The promise still settles with the executor's
   * answer: normally an `is_error` "interrupted" outcome (or the real result, when the
   * call finished first), so the recorded effect and the returned one agree.
   */
  signal?: AbortSignal | undefined;
};

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

type Reply = { id: number; ok: boolean; result?: unknown; error?: { type?: string; message?: string } };

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Client of the in-sandbox executor's protocol: newline-delimited JSON over a Unix
 * socket. One connection carries any number of concurrent calls (replies are matched by
 * request id); it is opened on first use and again after it closes. An idle client does
 * not keep the process alive.
 *
 * @example
 * const client = new ExecutorClient({ socketPath: join(driver.sessionDir('sesn_1'), 'exec.sock') });
 * const outcome = await client.run({ toolUseId: 'toolu_1', name: 'bash', input: { command: 'ls' } });
 * client.close();
 */
export class ExecutorClient {
  readonly socketPath: string;
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #buffer = '';
  #closed = false;

  constructor({ socketPath }: { socketPath: string }) {
    this.socketPath = socketPath;
  }

  /** Runs a tool call, or re-attaches to it, or gets its recorded result: the executor decides. */
  async run({ toolUseId, name, input, timeoutMs, signal }: ExecutorRunOptions): Promise<ToolOutcome> {
    signal?.throwIfAborted();
    const reply = this.#request({
      op: 'run',
      tool_use_id: toolUseId,
      name,
      input,
      ...(timeoutMs !== undefined ? { timeout_ms: timeoutMs } : {}),
    });
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
    const result = await this.#request({ op: 'cancel', tool_use_id: toolUseId });
    return isObject(result) && result['cancelled'] === true;
  }

  /** Resolves when the executor answers; rejects with {@link ExecutorConnectionError} otherwise. */
  async ping({ timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<ExecutorPing> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new ExecutorConnectionError(`executor did not answer ping within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return (await Promise.race([this.#request({ op: 'ping' }), timeout])) as ExecutorPing;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection; pending calls reject (their executions go on in the sandbox). */
  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
    this.#failAll(new ExecutorConnectionError('executor client closed'));
  }

  async #request(body: Record<string, unknown>): Promise<unknown> {
    if (this.#closed) throw new ExecutorConnectionError('executor client closed');
    const socket = await this.#connection();
    const id = this.#nextId++;
    const line = `${JSON.stringify({ id, ...body })}\n`;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      socket.ref();
      socket.write(line);
    });
  }

  #connection(): Promise<Socket> {
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    this.#connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect({ path: connectablePath(this.socketPath) });
      socket.setEncoding('utf8');
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
    this.#buffer = '';
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let newline = this.#buffer.indexOf('\n');
      while (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        this.#settle(line);
        newline = this.#buffer.indexOf('\n');
      }
    });
    let failure: Error | undefined;
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
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#socket?.unref();
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(new ExecutorRequestError(reply.error?.type ?? 'unknown', reply.error?.message ?? 'executor error'));
  }

  #failAll(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const { reject } of pending) reject(error);
  }
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
  return { content, is_error: value['is_error'] };
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
