import { constants } from 'node:fs';
import { lstat, mkdir, open, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { getContainerRuntimeClient } from 'testcontainers';
import { DockerSandbox } from './docker-sandbox.ts';
import type { ResolveHost } from './egress/egress-proxy.ts';
import { assertSecretNames, EGRESS_RELAY_PORT, proxyEnvironment } from './egress/sandbox-egress.ts';
import { secretsOf, SessionEgress } from './egress/session-egress.ts';
import { ExecutorClient } from './executor-client.ts';
import { containerDeadReason, ExecutorReadyWaitStrategy, waitForExecutor } from './executor-ready.ts';
import { PackageImageBuilder } from './packages/package-image-builder.ts';
import { type PackageRegistries, registryEnvironment, registryHosts } from './packages/package-registries.ts';
import { buildSandboxContainer, type SandboxContainerOptions } from './sandbox-container.ts';
import { SessionDisks } from './session-disk.ts';
import {
  assertSessionId,
  LABEL_LAYOUT,
  LABEL_SESSION,
  SANDBOX_LAYOUT,
  SOCKET_FILE,
  sessionTrustDir,
  volumeName,
  sessionFilesVolumeName,
} from './sandbox-resources.ts';
import { type SandboxDriver, type SandboxLogger, type SandboxNetworking, type SandboxSpec, SandboxStartError } from './types.ts';

// A container still `created` (never started) after this long was abandoned by a crashed worker.
const ABANDONED_CREATED_SECONDS = 10;

export const DEFAULT_SANDBOX_IMAGE = 'longhaul-sandbox:latest';

/*
 * A session's share of the host's CPU (figures: `BENCH_ONLY=sandbox_neighbours npm run bench`).
 * A CPU hog or a relaunched fork bomb takes all the CPU its cap allows; what a neighbour's
 * step then waits for is mostly the control plane (worker, Temporal, PostgreSQL: most of
 * a step's CPU), not its own sandbox (a few ms).
 * - The cap stays at one core: on a 2-core host one session never takes more than half,
 *   so a core is always left for the rest, and a lone session's build still gets a whole
 *   core. Half a core would slow every build and buys little the weight does not already
 *   give when the host is busy (the bench shows no clear gain for neighbours).
 * - The weight drops to a quarter of a default container's (CpuShares 256 of 1024; cgroup
 *   v2 weight 10 of 100). Sandbox work is batch work: when cores are contended, the
 *   latency-bound control plane should win wherever it is a sibling cgroup (Temporal and
 *   PostgreSQL as containers, services under systemd on cgroup v2). Measured against a
 *   busy default-weight container, a hog now gets about a fifth of the contended CPU
 *   instead of half. Sessions keep equal weights, so they stay fair to each other.
 * Both are per worker: `LONGHAUL_SANDBOX_CPUS`, `LONGHAUL_SANDBOX_CPU_SHARES`; an
 * environment's `cpus` still sets its own cap.
 */
export const DEFAULT_SANDBOX_CPUS = 1;
export const DEFAULT_SANDBOX_CPU_SHARES = 256;

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** Memory mounts become folder names and mount targets: only plain, distinct slugs pass. */
function checkedMemoryMounts(mounts: NonNullable<SandboxSpec['memory']>): NonNullable<SandboxSpec['memory']> {
  const seen = new Set<string>();
  for (const { slug } of mounts) {
    if (!SLUG.test(slug)) throw new SandboxStartError('start_failed', `memory mount ${JSON.stringify(slug)} is not a folder name of lowercase letters, digits and -`);
    if (seen.has(slug)) throw new SandboxStartError('start_failed', `memory mount ${slug} is given twice`);
    seen.add(slug);
  }
  return mounts;
}

/** The executor's source folder in this package; bind-mounted read-only into every sandbox. */
export const DEFAULT_EXECUTOR_DIR = fileURLToPath(new URL('./executor/', import.meta.url));

export type DockerSandboxDriverOptions = {
  /** Host folder holding one folder per session (executor socket and tool-call journal). Must be on the Docker host. */
  dataDir: string;
  /** Image when the spec names none. Default `longhaul-sandbox:latest`; never pulled. */
  image?: string;
  /** Host folder with `executor.py` and its modules. Default: `sandbox/executor/` of this package. */
  executorDir?: string;
  /** Memory limit in MiB when the spec sets none. Default 2048. */
  memoryMb?: number;
  /** CPU limit in cores when the spec sets none. Default 1. */
  cpus?: number;
  /** CPU weight of every sandbox when cores are contended (Docker `CpuShares`, 2–262 144; a container's default is 1024). Default 256. */
  cpuShares?: number;
  /** Process limit when the spec sets none. Default 512. */
  pidsLimit?: number;
  /** Size cap of each tmpfs (/tmp, /var/tmp, home) in MiB; smaller when the memory limit is small (see `tmpfsSizeMb`). Default 512. */
  tmpfsMb?: number;
  /** Disk quota of a session (`/workspace` and `/mnt/session` together) in MiB when the spec sets none. Default 10 240. */
  diskMb?: number;
  /** Tool call time limit when neither the request nor the tool input sets one. Default 120 000. */
  defaultTimeoutMs?: number;
  /** Output kept per tool call, head and tail, in bytes. Default 100 000. */
  maxOutputBytes?: number;
  /** How long a started (or found) container may take until its executor answers. Default 30 000. */
  readyTimeoutMs?: number;
  /** Registries (mirrors) for installing environment packages; see `packageRegistriesFromEnv`. Default: each manager's public registry. */
  packageRegistries?: PackageRegistries;
  /** Limit for building one environment's package image. Default 20 minutes. */
  packageInstallTimeoutMs?: number;
  /** How the egress proxy resolves destination names. Default: the system resolver. */
  resolveEgressHost?: ResolveHost;
  /** Egress decisions (debug, without header values) and package image builds (info). Default: none. */
  logger?: SandboxLogger;
  /** CAs trusted for https destinations whose requests get secrets substituted. Default: Node's and the system's. */
  egressUpstreamCa?: readonly string[];
};

/**
 * Runs each session's tools in its own hardened Docker container, with `/workspace` and
 * `/mnt/session` on the session's own quota'd disk (`SessionDisks`), so a replaced
 * container keeps the files and no session can fill the host.
 *
 * `ensure` is safe to call from any number of workers at once: the container name is
 * the session's, so only one container per session can exist, and a worker that loses
 * the race (or starts after a crash) adopts the existing one.
 *
 * @example
 * const driver = new DockerSandboxDriver({ dataDir: join(stateDir, 'sandboxes') });
 * const sandbox = await driver.ensure({ sessionId: 'sesn_1', networking: { type: 'limited' } });
 * const outcome = await sandbox.runTool({ toolUseId: 'toolu_1', name: 'bash', input: { command: 'ls' } });
 * await driver.destroy('sesn_1', { removeVolume: true });
 */
export class DockerSandboxDriver implements SandboxDriver {
  readonly dataDir: string;
  readonly #image: string;
  readonly #executorDir: string;
  readonly #limits: { memoryMb: number; cpus: number; cpuShares: number; pidsLimit: number; tmpfsMb: number; diskMb: number };
  readonly #disks: SessionDisks;
  readonly #defaultTimeoutMs: number;
  readonly #maxOutputBytes: number;
  readonly #readyTimeoutMs: number;
  readonly #registries: PackageRegistries;
  readonly #packageImages: PackageImageBuilder;
  readonly #egress: SessionEgress;
  readonly #sandboxes = new Map<string, DockerSandbox>();
  readonly #ensuring = new Map<string, Promise<DockerSandbox>>();

  constructor({
    dataDir,
    image = DEFAULT_SANDBOX_IMAGE,
    executorDir = DEFAULT_EXECUTOR_DIR,
    memoryMb = 2048,
    cpus = DEFAULT_SANDBOX_CPUS,
    cpuShares = DEFAULT_SANDBOX_CPU_SHARES,
    pidsLimit = 512,
    tmpfsMb = 512,
    diskMb = 10_240,
    defaultTimeoutMs = 120_000,
    maxOutputBytes = 100_000,
    readyTimeoutMs = 30_000,
    packageRegistries = {},
    packageInstallTimeoutMs,
    resolveEgressHost,
    logger,
    egressUpstreamCa,
  }: DockerSandboxDriverOptions) {
    this.dataDir = resolve(dataDir);
    this.#image = image;
    this.#executorDir = resolve(executorDir);
    this.#limits = { memoryMb, cpus, cpuShares, pidsLimit, tmpfsMb, diskMb };
    this.#disks = new SessionDisks(join(this.dataDir, '.disks'));
    this.#defaultTimeoutMs = defaultTimeoutMs;
    this.#maxOutputBytes = maxOutputBytes;
    this.#readyTimeoutMs = readyTimeoutMs;
    this.#registries = packageRegistries;
    this.#egress = new SessionEgress({
      registryHosts: registryHosts(packageRegistries),
      resolveHost: resolveEgressHost,
      logger,
      upstreamCa: egressUpstreamCa,
    });
    this.#packageImages = new PackageImageBuilder({
      buildRoot: join(this.dataDir, '.package-builds'),
      executorDir: this.#executorDir,
      registries: packageRegistries,
      resolveHost: resolveEgressHost,
      logger,
      installTimeoutMs: packageInstallTimeoutMs,
    });
  }

  /** Environment images built by this driver (a cached image is not counted). */
  get packageImageBuilds(): number {
    return this.#packageImages.builds;
  }

  /** The session's host folder: `exec.sock` and the `state/` journal. */
  sessionDir(sessionId: string): string {
    assertSessionId(sessionId);
    return join(this.dataDir, sessionId);
  }

  /** The image file of the session's disk (its `/workspace` and `/mnt/session`), once it has one. */
  diskImagePath(sessionId: string): string {
    assertSessionId(sessionId);
    return this.#disks.imagePath(sessionId);
  }

  async ensure(spec: SandboxSpec): Promise<DockerSandbox> {
    assertSessionId(spec.sessionId);
    assertSecretNames(secretsOf(spec));
    const cached = this.#sandboxes.get(spec.sessionId);
    if (cached !== undefined && (await cached.isAlive())) {
      // Secrets may have been rotated since: new requests use the values given now.
      this.#egress.refresh(spec);
      return cached;
    }
    // One attempt per session at a time in this process; other processes race on the name.
    let ensuring = this.#ensuring.get(spec.sessionId);
    if (ensuring === undefined) {
      ensuring = this.#ensureSlow(spec).finally(() => this.#ensuring.delete(spec.sessionId));
      this.#ensuring.set(spec.sessionId, ensuring);
    }
    return ensuring;
  }

  async #ensureSlow(spec: SandboxSpec): Promise<DockerSandbox> {
    const { sessionId } = spec;
    this.#forget(sessionId);
    const docker = await dockerClient();
    // Before the deadline: a first build can take minutes, a cached image is two inspects.
    const image = await this.#packageImages.imageFor(spec.image ?? this.#image, spec.packages);
    const sessionDir = await this.#prepareSessionDir(sessionId);
    const socketPath = join(sessionDir, SOCKET_FILE);
    const deadline = Date.now() + this.#readyTimeoutMs;
    for (;;) {
      const existing = await findSessionContainers(docker, sessionId);
      // A container of an older layout is never adopted: its agent could write its executor's folder.
      const running = existing.find((c) => c.State === 'running' && c.Labels[LABEL_LAYOUT] === SANDBOX_LAYOUT);
      if (running !== undefined) {
        const container = docker.getContainer(running.Id);
        const client = new ExecutorClient({ socketPath });
        try {
          // Files are copied in through the disk's host path, so it must be mounted here too.
          if (await this.#disks.exists(sessionId)) await this.#disks.mount(sessionId, this.#diskMb(spec));
          await this.#egress.forRunningContainer(spec, sessionDir, container);
          // It may have been started a moment ago by another worker: give it the budget.
          const ping = await waitForExecutor({
            client,
            timeoutMs: this.#readyTimeoutMs,
            deadReason: () => containerDeadReason(container),
          });
          return this.#remember(new DockerSandbox({ sessionId, container, client, bootId: ping.boot_id }));
        } catch {
          client.close();
          // Running but unusable: replace it. Its journal stays and says what ran.
        }
      } else if (existing.some((c) => isBeingStarted(c)) && Date.now() < deadline) {
        // Another worker created it and is starting it right now.
        await sleep(10);
        continue;
      }
      // Dead, stopped, abandoned, unusable or old-layout containers are replaced; the volume stays.
      await Promise.all(existing.map((c) => removeContainer(docker.getContainer(c.Id))));
      if (existing.some((c) => c.Labels[LABEL_LAYOUT] !== SANDBOX_LAYOUT)) {
        await this.#egress.stop(sessionId);
        await this.#prepareSessionDir(sessionId, { fresh: true });
      }
      const client = new ExecutorClient({ socketPath });
      try {
        const storage = await this.#storage(docker, spec);
        const { containerId, bootId } = await this.#create(spec, image, sessionDir, storage, client);
        return this.#remember(new DockerSandbox({ sessionId, container: docker.getContainer(containerId), client, bootId }));
      } catch (error) {
        client.close();
        // Another worker created the session's container first: adopt it on the next turn.
        if (isNameConflict(error) && Date.now() < deadline) continue;
        throw error;
      }
    }
  }

  async #create(
    spec: SandboxSpec,
    image: string,
    sessionDir: string,
    storage: SandboxContainerOptions['storage'],
    client: ExecutorClient,
  ): Promise<{ containerId: string; bootId: string }> {
    const egress = await this.#egress.forNewContainer(spec, sessionDir);
    const environment = {
      ...(packagesReachable(spec.networking) ? registryEnvironment(this.#registries) : {}),
      ...proxyEnvironment(),
      ...egress.environment,
      ...Object.fromEntries(egress.placeholders),
    };
    const waitStrategy = new ExecutorReadyWaitStrategy({ client, timeoutMs: this.#readyTimeoutMs });
    const builder = buildSandboxContainer({
      sessionId: spec.sessionId,
      image,
      memoryMb: spec.memoryMb ?? this.#limits.memoryMb,
      cpus: spec.cpus ?? this.#limits.cpus,
      cpuShares: this.#limits.cpuShares,
      pidsLimit: spec.pidsLimit ?? this.#limits.pidsLimit,
      tmpfsMb: this.#limits.tmpfsMb,
      sessionDir,
      trustDir: sessionTrustDir(sessionDir),
      executorDir: this.#executorDir,
      maxOutputBytes: this.#maxOutputBytes,
      defaultTimeoutMs: this.#defaultTimeoutMs,
      waitStrategy,
      egressRelayPort: EGRESS_RELAY_PORT,
      environment,
      storage,
    });
    try {
      const started = await builder.start();
      if (waitStrategy.ping === undefined) throw new SandboxStartError('not_ready', 'sandbox executor never answered');
      return { containerId: started.getId(), bootId: waitStrategy.ping.boot_id };
    } catch (error) {
      if (error instanceof Error && /does not exist locally/.test(error.message)) {
        throw new SandboxStartError(
          'image_missing',
          `sandbox image ${image} is not on the Docker host; build it with \`npm run setup\``,
          { cause: error },
        );
      }
      if (!isNameConflict(error) && !(error instanceof SandboxStartError)) {
        throw new SandboxStartError('start_failed', `could not start the sandbox of session ${spec.sessionId}: ${String(error)}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /**
   * The session's disk, mounted; or, for a session whose files are on the named volumes
   * of a release before disks (and that has no disk), those volumes.
   */
  async #storage(docker: Dockerode, spec: SandboxSpec): Promise<SandboxContainerOptions['storage']> {
    const { sessionId } = spec;
    const memory = spec.memory ?? [];
    if (!(await this.#disks.exists(sessionId)) && (await volumeExists(docker, volumeName(sessionId)))) {
      if (memory.length > 0) throw new SandboxStartError('start_failed', `session ${sessionId} keeps its files on volumes of an older release, which cannot hold memory stores`);
      return { type: 'volumes' };
    }
    const disk = await this.#disks.mount(sessionId, this.#diskMb(spec));
    return { type: 'disk', disk: memory.length > 0 ? await this.#disks.memoryFolders(disk, sessionId, checkedMemoryMounts(memory)) : disk };
  }

  #diskMb(spec: SandboxSpec): number {
    return spec.diskMb ?? this.#limits.diskMb;
  }

  /**
   * Removes the session's container and unmounts its disk. With `removeVolume`, also its
   * files (the disk, or older sessions' volumes) and its host folder (socket and
   * tool-call journal): the session is over.
   */
  async destroy(sessionId: string, { removeVolume = false }: { removeVolume?: boolean } = {}): Promise<void> {
    assertSessionId(sessionId);
    await this.#ensuring.get(sessionId)?.catch(() => undefined);
    this.#forget(sessionId);
    await this.#egress.stop(sessionId);
    const docker = await dockerClient();
    const containers = await findSessionContainers(docker, sessionId);
    await Promise.all(containers.map((c) => removeContainer(docker.getContainer(c.Id))));
    if (!removeVolume) {
      await this.#disks.unmount(sessionId);
    } else {
      await this.#disks.remove(sessionId);
      await removeVolumeIfPresent(docker, volumeName(sessionId));
      await removeVolumeIfPresent(docker, sessionFilesVolumeName(sessionId));
      await rm(this.sessionDir(sessionId), { recursive: true, force: true });
    }
  }

  /**
   * Closes the connections this driver holds and stops its egress proxies;
   * containers keep running, and the next `ensure` of a session (by any worker)
   * serves its proxy again.
   */
  async close(): Promise<void> {
    for (const sessionId of [...this.#sandboxes.keys()]) this.#forget(sessionId);
    await this.#egress.stopAll();
  }

  #remember(sandbox: DockerSandbox): DockerSandbox {
    this.#sandboxes.set(sandbox.sessionId, sandbox);
    return sandbox;
  }

  #forget(sessionId: string): void {
    this.#sandboxes.get(sessionId)?.close();
    this.#sandboxes.delete(sessionId);
  }

  /**
   * The session's host folder, closed to the sandbox: owned by this worker (root), mode
   * 0700, so in the container only the executor (root) can enter it; and its `trust/`
   * folder, mounted read-only. Nothing here is ever chowned, and nothing is followed: a
   * folder that is not a plain directory owned by root (a link, or an older layout's
   * folder the agent could write) is removed, links and all, and made anew, since what
   * the agent could write there (the journal included) cannot be trusted.
   */
  async #prepareSessionDir(sessionId: string, { fresh = false }: { fresh?: boolean } = {}): Promise<string> {
    if (process.getuid?.() !== 0) {
      throw new SandboxStartError(
        'start_failed',
        'the Docker sandbox driver must run as root: the sandbox executor is root in its container, and only a root-owned host folder keeps the agent out of it',
      );
    }
    const dir = this.sessionDir(sessionId);
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    if (fresh || !(await isOwnDirectory(dir, 0o700)) || !(await isOwnDirectory(sessionTrustDir(dir), 0o755))) {
      // rm does not follow links: a planted link is removed, not its target.
      await rm(dir, { recursive: true, force: true });
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await mkdir(sessionTrustDir(dir), { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    // mkdir's mode is masked by the umask; set it exactly, on the folder itself (O_NOFOLLOW).
    await chmodDirectory(dir, 0o700);
    await chmodDirectory(sessionTrustDir(dir), 0o755);
    return dir;
  }
}

/** True when `path` is a real directory (not a link) owned by this process's uid with exactly `mode`. */
async function isOwnDirectory(path: string, mode: number): Promise<boolean> {
  try {
    const info = await lstat(path);
    return info.isDirectory() && info.uid === process.getuid?.() && (info.mode & 0o7777) === mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function chmodDirectory(path: string, mode: number): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/** Whether the sandbox may talk to package registries itself (so it gets the registry settings). */
function packagesReachable(networking: SandboxNetworking): boolean {
  return networking.type === 'unrestricted' || networking.allow_package_managers === true;
}

async function dockerClient(): Promise<Dockerode> {
  return (await getContainerRuntimeClient()).container.dockerode;
}

/** Every container of the session, whatever its state. */
export async function findSessionContainers(docker: Dockerode, sessionId: string): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${sessionId}`] } });
}

export async function removeContainer(container: Dockerode.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: false });
  } catch (error) {
    // Already gone, or already being removed by someone else.
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw error;
  }
}

async function volumeExists(docker: Dockerode, name: string): Promise<boolean> {
  try {
    await docker.getVolume(name).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

export async function removeVolumeIfPresent(docker: Dockerode, name: string): Promise<void> {
  try {
    await docker.getVolume(name).remove();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
}

/** A container in `created` state, young enough that its creator is probably starting it. */
function isBeingStarted(container: Dockerode.ContainerInfo): boolean {
  return container.State === 'created' && Date.now() / 1000 - container.Created < ABANDONED_CREATED_SECONDS;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isNameConflict(error: unknown): boolean {
  const status = (error as { statusCode?: number } | undefined)?.statusCode;
  return status === 409 || (error instanceof Error && /Conflict\. The container name/.test(error.message));
}


