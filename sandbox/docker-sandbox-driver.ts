import { AsyncLocalStorage } from 'node:async_hooks';
import { lstat, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { DockerSandbox } from './docker-sandbox.ts';
import type { ResolveHost } from './egress/egress-proxy.ts';
import { assertSecretNames, EGRESS_RELAY_PORT, proxyEnvironment } from './egress/sandbox-egress.ts';
import { secretsOf, SessionEgress } from './egress/session-egress.ts';
import { ExecutorClient } from './executor-client.ts';
import { containerDeadReason, waitForExecutor } from './executor-ready.ts';
import { packageSetOf } from './packages/install-script.ts';
import { PackageImageBuilder } from './packages/package-image-builder.ts';
import { type PackageRegistries, registryEnvironment, registryHosts } from './packages/package-registries.ts';
import { type SandboxContainerOptions, startSandboxContainer } from './sandbox-container.ts';
import { dockerClient, findSessionContainers, isNameConflict, removeContainer, removeVolumeIfPresent, volumeExists } from './session-containers.ts';
import { SessionDisks } from './session-disk.ts';
import { prepareSessionFolder } from './session-folder.ts';
import {
  assertSessionId,
  CONTAINER_PATHS,
  isSessionId,
  LABEL_LAYOUT,
  SANDBOX_LAYOUT,
  SOCKET_FILE,
  sessionTrustDir,
  volumeName,
  sessionFilesVolumeName,
  warmContainerName,
  warmLabels,
} from './sandbox-resources.ts';
import { defaultConcurrentStarts, StartPacer } from './start-pacer.ts';
import { type SandboxDriver, type SandboxLogger, type SandboxNetworking, type SandboxSpec, SandboxStartError } from './types.ts';
import { recordSandboxStart, secondsSince } from '../src/telemetry/metric-instruments.ts';
import { type StartWarmContainer, type WarmKey, WarmPool, type WarmPoolOptions } from './warm-pool.ts';

export { findSessionContainers, removeContainer, removeVolumeIfPresent } from './session-containers.ts';

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
  /**
   * Containers kept started ahead of sessions, per kind of sandbox sessions ask for (image,
   * limits, whether it reaches package registries; the three kinds last asked for), for
   * new sessions to claim: their sandbox is then there at once. Only what a pre-started
   * container serves exactly as a cold one would is served so (no environment packages,
   * vault secrets or memory stores). Each costs an idle container (its executor, about
   * 16 MiB) and a mounted empty disk. Default 0: none. See `warmUp`.
   */
  warmPoolSize?: number;
  /**
   * Containers kept per kind at most, when new sessions ask for more at once than
   * `warmPoolSize`: the pool then grows to the largest burst of the last ten minutes (new
   * sessions of a kind within ten seconds), with CPU the machine has to spare, and shrinks
   * back after. Default `warmPoolSize`: a pool of fixed size.
   */
  warmPoolMax?: number;
  /** The warm pool's timings and gauge: how long a burst keeps it grown, when there is CPU to spare to grow, when a failed start is tried again. Defaults: `WarmPool`'s. */
  warmPoolTuning?: Pick<WarmPoolOptions, 'demandHoldMs' | 'spareCpu' | 'retryAfterMs'>;
  /** Container starts (sessions' and the warm pool's refills) running at once, at most; the rest wait, sessions' first. Default `defaultConcurrentStarts()`. */
  concurrentStarts?: number;
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
 * With `warmPoolSize`, a new session claims a container started ahead of it (`WarmPool`),
 * which then takes the session's folder, disk and name. Container starts, sessions' and
 * the pool's, go a few at a time (`StartPacer`), so a burst of new sessions does not
 * start every container at the same moment.
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
  readonly #pacer: StartPacer;
  readonly #pool: WarmPool;
  readonly #logger: SandboxLogger | undefined;
  /**
   * Runs a function in the async context the driver was made in. A sandbox outlives the call
   * that first asked for it: the sockets, servers and timers made for it carry the context
   * they were made in for as long as they live, and a Temporal activity's context holds the
   * activity (its logger, info, cancellation) reachable. Made there, every idle session kept
   * the activity that started its sandbox.
   */
  readonly #inOwnContext = AsyncLocalStorage.snapshot();

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
    warmPoolSize = 0,
    warmPoolMax = warmPoolSize,
    warmPoolTuning,
    concurrentStarts = defaultConcurrentStarts(),
  }: DockerSandboxDriverOptions) {
    this.dataDir = resolve(dataDir);
    this.#image = image;
    this.#executorDir = resolve(executorDir);
    this.#limits = { memoryMb, cpus, cpuShares, pidsLimit, tmpfsMb, diskMb };
    this.#disks = new SessionDisks(join(this.dataDir, '.session-disks'), { legacyRoot: join(this.dataDir, '.disks') });
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
    this.#logger = logger;
    this.#pacer = new StartPacer({ concurrency: concurrentStarts });
    if (!Number.isInteger(warmPoolSize) || warmPoolSize < 0) throw new RangeError(`warmPoolSize must be a whole number, not ${warmPoolSize}`);
    if (!Number.isInteger(warmPoolMax) || warmPoolMax < warmPoolSize) throw new RangeError(`warmPoolMax must be a whole number no less than warmPoolSize (${warmPoolSize}), not ${warmPoolMax}`);
    this.#pool = new WarmPool({
      root: join(this.dataDir, '.warm'),
      size: warmPoolSize,
      maxSize: warmPoolMax,
      ...warmPoolTuning,
      disks: this.#disks,
      pacer: this.#pacer,
      start: (slot) => this.#startWarm(slot),
      logger,
    });
  }

  /** Warm containers ready for new sessions to claim, all kinds together. */
  get warmSandboxes(): number {
    return this.#pool.ready;
  }

  /**
   * Starts filling the warm pool (when `warmPoolSize` is set) with containers for the
   * default environment: the default image and limits, `limited` networking without
   * package managers. The pool of any other kind of sandbox fills after a session first
   * asks for one.
   */
  warmUp(): void {
    const key = this.#warmKey({ networking: { type: 'limited' } });
    if (key !== undefined) this.#pool.want(key);
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
    // Every tool call comes through here: an open connection spares it a ping to the executor.
    if (cached !== undefined && (cached.connected || (await cached.isAlive()))) {
      // Secrets may have been rotated since: new requests use the values given now.
      this.#egress.refresh(spec);
      return cached;
    }
    // One attempt per session at a time in this process; other processes race on the name.
    let ensuring = this.#ensuring.get(spec.sessionId);
    if (ensuring === undefined) {
      ensuring = this.#inOwnContext(() => this.#ensureSlow(spec)).finally(() => this.#ensuring.delete(spec.sessionId));
      this.#ensuring.set(spec.sessionId, ensuring);
    }
    return ensuring;
  }

  async #ensureSlow(spec: SandboxSpec): Promise<DockerSandbox> {
    const { sessionId } = spec;
    const startedAt = performance.now();
    this.#forget(sessionId);
    const docker = await dockerClient();
    const warm = await this.#claimWarm(docker, spec);
    if (warm !== undefined) {
      recordSandboxStart({ seconds: secondsSince(startedAt), source: 'warm_pool' });
      return warm;
    }
    // Before the deadline: a first build can take minutes, a cached image is two inspects.
    const image = await this.#packageImages.imageFor(spec.image ?? this.#image, spec.packages);
    const sessionDir = await prepareSessionFolder(this.sessionDir(sessionId));
    const socketPath = join(sessionDir, SOCKET_FILE);
    let deadline = Date.now() + this.#readyTimeoutMs;
    for (;;) {
      const existing = await findSessionContainers(docker, sessionId);
      // A container of an older layout is never adopted: its agent could write its executor's folder.
      // Nor is one without /mnt/skills (a release before skills started it) for a session that has skills.
      const running = existing.find((c) => c.State === 'running' && c.Labels[LABEL_LAYOUT] === SANDBOX_LAYOUT && (spec.skills !== true || hasSkillsMount(c)));
      if (running !== undefined) {
        const container = docker.getContainer(running.Id);
        const client = new ExecutorClient({ socketPath });
        try {
          // Files are copied in through the disk's host path, so it must be mounted here too.
          const disk = (await this.#disks.exists(sessionId)) ? await this.#disks.mount(sessionId, this.#diskMb(spec)) : undefined;
          await this.#egress.forRunningContainer(spec, sessionDir, container);
          // It may have been started a moment ago by another worker: give it the budget.
          const ping = await waitForExecutor({
            client,
            timeoutMs: this.#readyTimeoutMs,
            deadReason: () => containerDeadReason(container),
          });
          const skillFolders = disk !== undefined && hasSkillsMount(running) ? disk.skills : undefined;
          return this.#remember(new DockerSandbox({ sessionId, container, client, bootId: ping.boot_id, skillFolders }));
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
        await prepareSessionFolder(sessionDir, { fresh: true });
      }
      const client = new ExecutorClient({ socketPath });
      try {
        const queuedAt = Date.now();
        const { containerId, bootId, skillFolders } = await this.#pacer.run('session', async () => {
          // Waiting for a turn is not waiting for another worker's start: the deadline moves on.
          deadline += Date.now() - queuedAt;
          const storage = await this.#storage(docker, spec);
          return { ...(await this.#create(spec, image, sessionDir, storage, client)), skillFolders: storage.type === 'disk' ? storage.disk.skills : undefined };
        });
        recordSandboxStart({ seconds: secondsSince(startedAt), source: 'cold' });
        return this.#remember(new DockerSandbox({ sessionId, container: docker.getContainer(containerId), client, bootId, skillFolders }));
      } catch (error) {
        client.close();
        // Another worker created the session's container first: adopt it on the next turn.
        if (isNameConflict(error) && Date.now() < deadline) continue;
        throw error;
      }
    }
  }

  /**
   * A container from the warm pool, made the session's: only for a session that has
   * nothing yet (no folder, disk or volumes), and a spec a pooled container serves exactly
   * as a cold one. Undefined when there is none to claim, or the claim lost a race with
   * the session's own start elsewhere: the cold path then finds what there is.
   */
  async #claimWarm(docker: Dockerode, spec: SandboxSpec): Promise<DockerSandbox | undefined> {
    const key = this.#warmKey(spec);
    if (key === undefined) return undefined;
    if (!this.#pool.enabled) return undefined;
    // Asked for: this kind is kept warm from now on.
    this.#pool.want(key);
    const { sessionId } = spec;
    const sessionDir = this.sessionDir(sessionId);
    const [hasFolder, hasDisk, hasVolume] = await Promise.all([
      lstat(sessionDir).then(() => true, (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? false : Promise.reject(error))),
      this.#disks.exists(sessionId),
      volumeExists(docker, volumeName(sessionId)),
    ]);
    if (hasFolder || hasDisk || hasVolume) return undefined;
    // A new session: it counts towards the pool's size even when there is none to take.
    const slot = this.#pool.take(key);
    if (slot === undefined || !(await this.#pool.claim(slot, { sessionId, sessionFolder: sessionDir }))) return undefined;
    const client = new ExecutorClient({ socketPath: join(sessionDir, SOCKET_FILE) });
    try {
      const [ping] = await Promise.all([client.ping({ timeoutMs: 2_000 }), this.#egress.forNewContainer(spec, sessionDir)]);
      if (ping.boot_id !== slot.bootId) throw new Error(`the warm container's executor was replaced (boot ${ping.boot_id}, not ${slot.bootId})`);
      // The claim gave the slot's mounted disk the session's name: the container's /mnt/skills is on it.
      return this.#remember(new DockerSandbox({ sessionId, container: docker.getContainer(slot.containerId), client, bootId: ping.boot_id, skillFolders: this.#disks.skillFolders(sessionId) }));
    } catch (error) {
      client.close();
      // The session's container now, but not answering (it died while warm): the cold path replaces it.
      this.#logger?.debug('claimed warm sandbox does not answer', { sessionId, error: String(error) });
      return undefined;
    }
  }

  /** What a pooled container for `spec` is started with; undefined when only a cold start serves it exactly. */
  #warmKey(spec: Omit<SandboxSpec, 'sessionId'>): WarmKey | undefined {
    // Packages build an image per set; placeholders of secrets and memory mounts are fixed when a container is made.
    if (packageSetOf(spec.packages) !== undefined || (spec.egress?.secrets ?? []).length > 0 || (spec.memory ?? []).length > 0) return undefined;
    return { image: spec.image ?? this.#image, ...this.#limitsOf(spec), diskMb: this.#diskMb(spec), packageRegistries: this.#getsRegistries(spec.networking) };
  }

  /** A warm pool container: what `#create` makes for a spec of `key`, before any session (and so without its egress proxy). */
  async #startWarm({ slotId, key, folder, disk }: Parameters<StartWarmContainer>[0]): Promise<{ containerId: string; bootId: string }> {
    const client = new ExecutorClient({ socketPath: join(folder, SOCKET_FILE) });
    try {
      return await this.#start({
        sessionId: slotId,
        identity: { name: warmContainerName(slotId), labels: warmLabels(this.#pool.owner) },
        image: key.image,
        memoryMb: key.memoryMb,
        cpus: key.cpus,
        pidsLimit: key.pidsLimit,
        sessionDir: folder,
        storage: { type: 'disk', disk },
        client,
        environment: this.#baseEnvironment(key.packageRegistries),
      });
    } finally {
      // The session that claims it talks to it through its own folder's socket.
      client.close();
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
    return this.#start({
      sessionId: spec.sessionId,
      image,
      ...this.#limitsOf(spec),
      sessionDir,
      storage,
      client,
      environment: { ...this.#baseEnvironment(this.#getsRegistries(spec.networking)), ...egress.environment, ...Object.fromEntries(egress.placeholders) },
    });
  }

  /** Whether a sandbox with this networking gets the registry settings (it may reach the registries, and some are configured). */
  #getsRegistries(networking: SandboxNetworking): boolean {
    return packagesReachable(networking) && Object.keys(registryEnvironment(this.#registries)).length > 0;
  }

  /** Every sandbox's environment but a session's secrets: the egress relay, and the registries when it gets them. */
  #baseEnvironment(packageRegistries: boolean): Record<string, string> {
    return { ...(packageRegistries ? registryEnvironment(this.#registries) : {}), ...proxyEnvironment() };
  }

  #start(options: Pick<SandboxContainerOptions, 'sessionId' | 'identity' | 'image' | 'memoryMb' | 'cpus' | 'pidsLimit' | 'sessionDir' | 'storage' | 'environment'> & { client: ExecutorClient }): Promise<{ containerId: string; bootId: string }> {
    return startSandboxContainer({
      ...options,
      cpuShares: this.#limits.cpuShares,
      tmpfsMb: this.#limits.tmpfsMb,
      trustDir: sessionTrustDir(options.sessionDir),
      executorDir: this.#executorDir,
      maxOutputBytes: this.#maxOutputBytes,
      defaultTimeoutMs: this.#defaultTimeoutMs,
      egressRelayPort: EGRESS_RELAY_PORT,
      readyTimeoutMs: this.#readyTimeoutMs,
    });
  }

  /** The limits a container for `spec` gets: the spec's, else this driver's. */
  #limitsOf(spec: Omit<SandboxSpec, 'sessionId'>): Pick<SandboxContainerOptions, 'memoryMb' | 'cpus' | 'pidsLimit'> {
    return { memoryMb: spec.memoryMb ?? this.#limits.memoryMb, cpus: spec.cpus ?? this.#limits.cpus, pidsLimit: spec.pidsLimit ?? this.#limits.pidsLimit };
  }

  /**
   * The session's disk, mounted; or, for a session whose files are on the named volumes
   * of a release before disks (and that has no disk), those volumes.
   */
  async #storage(docker: Dockerode, spec: SandboxSpec): Promise<SandboxContainerOptions['storage']> {
    const { sessionId } = spec;
    const memory = spec.memory ?? [];
    if (!(await this.#disks.exists(sessionId)) && (await volumeExists(docker, volumeName(sessionId)))) {
      if (memory.length > 0 || spec.skills === true) throw new SandboxStartError('start_failed', `session ${sessionId} keeps its files on volumes of an older release, which cannot hold memory stores or skills`);
      return { type: 'volumes' };
    }
    const disk = await this.#disks.mount(sessionId, this.#diskMb(spec));
    return { type: 'disk', disk: memory.length > 0 ? await this.#disks.memoryFolders(disk, sessionId, checkedMemoryMounts(memory)) : disk };
  }

  #diskMb(spec: Omit<SandboxSpec, 'sessionId'>): number {
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
   * Starts no more sandboxes, and waits for the starts under way: a start still waiting for
   * its turn fails (`StartsStopped`), and the warm pool closes. For a host about to remove
   * its sessions' containers (`longhaul dev` stopping): its worker asks for no more, but a
   * start whose activity was cancelled goes on in the driver's own context, and would leave
   * a container nobody removes.
   */
  async stopStarting(): Promise<void> {
    // The pool first: a refill its loop has queued is refused below, and a closed pool neither logs nor retries it.
    const poolClosed = this.#pool.close();
    this.#pacer.stop('the sandbox driver is stopping');
    await poolClosed;
    while (this.#ensuring.size > 0) await Promise.allSettled([...this.#ensuring.values()]);
  }

  /**
   * Unmounts every mounted disk of this data folder's sessions; the images stay, and the
   * next start mounts them again. Their containers must be gone (see `stopStarting`): what
   * it catches is a disk whose container failed to start or was removed from outside.
   */
  async unmountSessionDisks(): Promise<void> {
    for (const name of await this.#disks.names()) if (isSessionId(name)) await this.#disks.unmount(name);
  }

  /**
   * Closes the connections this driver holds and stops its egress proxies;
   * sessions' containers keep running, and the next `ensure` of a session (by any
   * worker) serves its proxy again. The warm pool stops for good: its unclaimed
   * containers are removed, with what pools of dead workers on this data folder left.
   * Starts stop first (`stopStarting`): one still queued would otherwise go on after
   * the close, and serve an egress proxy nobody stops.
   */
  async close(): Promise<void> {
    try {
      await this.stopStarting();
    } finally {
      for (const sessionId of [...this.#sandboxes.keys()]) this.#forget(sessionId);
      await this.#egress.stopAll();
    }
  }

  #remember(sandbox: DockerSandbox): DockerSandbox {
    this.#sandboxes.set(sandbox.sessionId, sandbox);
    return sandbox;
  }

  #forget(sessionId: string): void {
    this.#sandboxes.get(sessionId)?.close();
    this.#sandboxes.delete(sessionId);
  }
}

/** Whether the container has the `/mnt/skills` mount (every container since skills has). */
function hasSkillsMount(container: Dockerode.ContainerInfo): boolean {
  return (container.Mounts ?? []).some((mount) => mount.Destination === CONTAINER_PATHS.skills);
}

/** Whether the sandbox may talk to package registries itself (so it gets the registry settings). */
function packagesReachable(networking: SandboxNetworking): boolean {
  return networking.type === 'unrestricted' || networking.allow_package_managers === true;
}

/** A container in `created` state, young enough that its creator is probably starting it. */
function isBeingStarted(container: Dockerode.ContainerInfo): boolean {
  return container.State === 'created' && Date.now() / 1000 - container.Created < ABANDONED_CREATED_SECONDS;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
