import type Dockerode from 'dockerode';
import type { BoundPorts, WaitStrategy } from 'testcontainers';
import { type ExecutorClient, ExecutorConnectionError, type ExecutorPing } from './executor-client.ts';
import { SandboxStartError } from './types.ts';

/** The first polls come 2 ms apart, later ones further (a burst of starts polls 50 sockets at once). */
const FIRST_POLL_INTERVAL_MS = 2;
const MAX_POLL_INTERVAL_MS = 20;
const LIVENESS_CHECK_EVERY_MS = 200;

export type WaitForExecutorOptions = {
  client: ExecutorClient;
  timeoutMs: number;
  /** Resolves to a reason when the container can no longer become ready (it exited). */
  deadReason?: (() => Promise<string | undefined>) | undefined;
};

/**
 * Polls the executor's socket, every few milliseconds at first, until it answers `ping`. The
 * socket file appears when the executor binds it, so until then connecting fails fast
 * (ENOENT, or ECONNREFUSED for a socket left by a replaced container).
 */
export async function waitForExecutor({ client, timeoutMs, deadReason }: WaitForExecutorOptions): Promise<ExecutorPing> {
  const deadline = Date.now() + timeoutMs;
  let nextLivenessCheck = Date.now() + LIVENESS_CHECK_EVERY_MS;
  let lastError: unknown;
  let interval = FIRST_POLL_INTERVAL_MS;
  while (Date.now() < deadline) {
    try {
      return await client.ping({ timeoutMs: Math.max(1, Math.min(2_000, deadline - Date.now())) });
    } catch (error) {
      if (!(error instanceof ExecutorConnectionError)) throw error;
      lastError = error;
    }
    if (deadReason !== undefined && Date.now() >= nextLivenessCheck) {
      const reason = await deadReason();
      if (reason !== undefined) {
        throw new SandboxStartError('start_failed', `sandbox executor did not start: ${reason}`, { cause: lastError });
      }
      nextLivenessCheck = Date.now() + LIVENESS_CHECK_EVERY_MS;
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
    interval = Math.min(MAX_POLL_INTERVAL_MS, interval * 1.5);
  }
  throw new SandboxStartError('not_ready', `sandbox executor did not answer within ${timeoutMs} ms`, { cause: lastError });
}

/** Why a container cannot serve any more, from `docker inspect`; undefined while it runs. */
export async function containerDeadReason(container: Dockerode.Container): Promise<string | undefined> {
  try {
    const { State } = await container.inspect();
    if (State.Running && !State.Paused && !State.Restarting) return undefined;
    let logs = '';
    try {
      const buffer = await container.logs({ stdout: true, stderr: true, tail: 20 });
      logs = demuxLogs(buffer).trim();
    } catch {
      // Logs are a courtesy for the error message.
    }
    const status = `container is ${State.Status} (exit code ${State.ExitCode}${State.OOMKilled ? ', OOM-killed' : ''})`;
    return logs ? `${status}; its last output:\n${logs}` : status;
  } catch (error) {
    return `container is gone: ${(error as Error).message}`;
  }
}

/** Docker multiplexes a non-TTY container's stdout and stderr with 8-byte frame headers. */
export function demuxLogs(buffer: Buffer): string {
  const parts: string[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString('utf8'));
    offset += 8 + size;
  }
  return offset === 0 ? buffer.toString('utf8') : parts.join('');
}

/** Testcontainers' start() finishes once the executor answers on the session's socket. */
export class ExecutorReadyWaitStrategy implements WaitStrategy {
  #timeoutMs: number;
  #timeoutSet = false;
  readonly #client: ExecutorClient;
  /** What the executor answered once ready. */
  ping: ExecutorPing | undefined;

  constructor({ client, timeoutMs }: { client: ExecutorClient; timeoutMs: number }) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  async waitUntilReady(container: Dockerode.Container, _boundPorts: BoundPorts): Promise<void> {
    this.ping = await waitForExecutor({
      client: this.#client,
      timeoutMs: this.#timeoutMs,
      deadReason: () => containerDeadReason(container),
    });
  }

  withStartupTimeout(startupTimeoutMs: number): this {
    this.#timeoutMs = startupTimeoutMs;
    this.#timeoutSet = true;
    return this;
  }

  isStartupTimeoutSet(): boolean {
    return this.#timeoutSet;
  }

  getStartupTimeout(): number {
    return this.#timeoutMs;
  }
}
