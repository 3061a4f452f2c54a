import type Dockerode from 'dockerode';
import { type ExecutorClient, ExecutorConnectionError } from './executor-client.ts';
import { containerDeadReason } from './executor-ready.ts';
import { installSkillFolders, type SkillFolders } from './skill-folders.ts';
import {
  type MemoryApply,
  type MemoryApplyResult,
  type MemoryManifest,
  type MemoryScan,
  type RunToolRequest,
  type Sandbox,
  SandboxLostError,
  SandboxStartError,
  type SkillInstall,
  type ToolOutcome,
} from './types.ts';

const LIVENESS_PING_TIMEOUT_MS = 2_000;

/**
 * A session's running container, reached through its executor's socket. Tool failures
 * come back as outcomes with `is_error`; only the sandbox itself going away throws
 * ({@link SandboxLostError}), so the caller can get a new one and retry the same
 * `tool_use_id`, which the journal on the session's folder keeps from running twice.
 */
export class DockerSandbox implements Sandbox {
  readonly sessionId: string;
  readonly containerId: string;
  /** Identifies the executor process this sandbox talks to; a new container has a new one. */
  readonly bootId: string;
  readonly #container: Dockerode.Container;
  readonly #client: ExecutorClient;
  readonly #skillFolders: SkillFolders | undefined;
  /** Skill folders known to be in place (they never change once there). */
  readonly #skillsInPlace = new Set<string>();

  constructor({
    sessionId,
    container,
    client,
    bootId,
    skillFolders,
  }: {
    sessionId: string;
    container: Dockerode.Container;
    client: ExecutorClient;
    bootId: string;
    /** The host folders behind `/mnt/skills`; undefined when the container has no such mount. */
    skillFolders?: SkillFolders | undefined;
  }) {
    this.sessionId = sessionId;
    this.containerId = container.id;
    this.bootId = bootId;
    this.#container = container;
    this.#client = client;
    this.#skillFolders = skillFolders;
  }

  async runTool({ toolUseId, name, input, defaultTimeoutMs, shell, signal }: RunToolRequest): Promise<ToolOutcome> {
    const run = (): Promise<ToolOutcome> =>
      this.#client.run({ toolUseId, name, input, timeoutMs: defaultTimeoutMs, shell, signal });
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof ExecutorConnectionError)) throw error;
      // Only the connection may have failed: if the executor still answers, re-attach
      // to the same call (the executor runs an id at most once).
      if (await this.isAlive()) {
        try {
          return await run();
        } catch (retryError) {
          if (!(retryError instanceof ExecutorConnectionError)) throw retryError;
          error = retryError;
        }
      }
      throw await this.#lost(`during tool call ${toolUseId} (${name})`, error);
    }
  }

  async cancelTool(toolUseId: string): Promise<void> {
    try {
      await this.#client.cancel(toolUseId);
    } catch (error) {
      // A sandbox that is gone runs nothing: cancelling is then a no-op.
      if (!(error instanceof ExecutorConnectionError)) throw error;
    }
  }

  async scanMemory(known: MemoryManifest): Promise<MemoryScan> {
    return this.#control('during a memory scan', () => this.#client.scanMemory(known));
  }

  async applyMemory(changes: MemoryApply): Promise<MemoryApplyResult> {
    return this.#control('during a memory sync', () => this.#client.applyMemory(changes));
  }

  async installSkills(skills: readonly SkillInstall[]): Promise<void> {
    const wanted = skills.filter((skill) => !this.#skillsInPlace.has(skill.folder));
    if (wanted.length === 0) return;
    if (this.#skillFolders === undefined) {
      throw new SandboxStartError('start_failed', `the sandbox of session ${this.sessionId} has no /mnt/skills (its files are on volumes of a release before session disks)`);
    }
    for (const folder of await installSkillFolders(this.#skillFolders, wanted)) this.#skillsInPlace.add(folder);
  }

  /** A request that is safe to repeat: a dropped connection is tried once more while the executor answers. */
  async #control<T>(when: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (!(error instanceof ExecutorConnectionError)) throw error;
      if (await this.isAlive()) {
        try {
          return await request();
        } catch (retryError) {
          if (!(retryError instanceof ExecutorConnectionError)) throw retryError;
          error = retryError;
        }
      }
      throw await this.#lost(when, error);
    }
  }

  /**
   * True while this sandbox's connection to its executor is open: that executor has not
   * exited (nor been replaced) as far as this process has heard. No round trip; a call on a
   * connection that closes meanwhile still finds out (`runTool` asks `isAlive`).
   */
  get connected(): boolean {
    return this.#client.connected;
  }

  /** True while this sandbox's executor (not a replacement's) answers on its socket. */
  async isAlive(): Promise<boolean> {
    try {
      const ping = await this.#client.ping({ timeoutMs: LIVENESS_PING_TIMEOUT_MS });
      return ping.boot_id === this.bootId;
    } catch {
      return false;
    }
  }

  /** Drops the connection to the executor; the container keeps running. */
  close(): void {
    this.#client.close();
  }

  async #lost(when: string, cause: unknown): Promise<SandboxLostError> {
    const reason = (await containerDeadReason(this.#container)) ?? 'the executor stopped answering';
    return new SandboxLostError(
      `sandbox of session ${this.sessionId} (container ${this.containerId.slice(0, 12)}) was lost ${when}: ${reason}`,
      { cause },
    );
  }
}
