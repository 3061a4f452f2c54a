import type { HostConfig, MountConfig } from 'dockerode';
import { GenericContainer, PullPolicy, type WaitStrategy } from 'testcontainers';
import {
  CONTAINER_PATHS,
  containerName,
  LABEL_LAYOUT,
  SANDBOX_GID,
  SANDBOX_LAYOUT,
  SANDBOX_UID,
  sessionFilesVolumeName,
  sessionLabels,
  volumeName,
} from './sandbox-resources.ts';
import { EGRESS_SOCKET_FILE } from './egress/sandbox-egress.ts';
import type { ExecutorClient } from './executor-client.ts';
import { ExecutorReadyWaitStrategy } from './executor-ready.ts';
import { isNameConflict } from './session-containers.ts';
import type { MountedDisk } from './session-disk.ts';
import { SandboxStartError } from './types.ts';

/**
 * `GenericContainer` plus the host settings its builder has no method for (init
 * process, pids limit, mounts with volume labels, read-only root, no swap).
 */
export class SandboxContainer extends GenericContainer {
  withHostConfig(extra: Partial<HostConfig>): this {
    Object.assign(this.hostConfig, extra);
    return this;
  }
}

export type SandboxContainerOptions = {
  sessionId: string;
  /** Name and labels, when the container is not (yet) a session's: a warm pool's. Default: the session's. */
  identity?: { name: string; labels: Record<string, string> } | undefined;
  image: string;
  memoryMb: number;
  cpus: number;
  /** Relative CPU weight under contention (Docker `CpuShares`; a container's default is 1024). */
  cpuShares: number;
  pidsLimit: number;
  /** The session's control folder on the host, mounted at /run/longhaul: only the executor (root) can enter it. */
  sessionDir: string;
  /** Host folder of files the sandbox may read but never write (the egress CA bundle), mounted read-only at /etc/longhaul. */
  trustDir: string;
  /** The executor's source folder on the host, mounted read-only. */
  executorDir: string;
  /** Size of each tmpfs (/tmp, /var/tmp, the home folder), at most; counts against the memory limit only when used. See `tmpfsSizeMb`. */
  tmpfsMb: number;
  maxOutputBytes: number;
  defaultTimeoutMs: number;
  waitStrategy: WaitStrategy;
  /** Port of the in-sandbox relay to the worker's egress proxy (its socket is in `sessionDir`): the sandbox's only way out. */
  egressRelayPort: number;
  /** Added to the container's environment: proxy settings, secret placeholders, registry settings. Never secret values. */
  environment?: Record<string, string> | undefined;
  /**
   * What `/workspace` and `/mnt/session` are: folders of the session's quota'd disk, or
   * (sessions started before disks existed) its two named volumes, which have no quota.
   */
  storage: { type: 'disk'; disk: MountedDisk } | { type: 'volumes' };
};

/**
 * Paths hidden from the sandbox: Docker's own list (setting one replaces it), plus
 * the host's virtual block devices. Every session disk is a loop device, and sysfs is the
 * host's: without the mask any agent could list `/sys/block/loopN/loop/backing_file`,
 * which names every other session on the host (and where the worker keeps their files).
 */
export const SANDBOX_MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
  '/sys/devices/virtual/block',
] as const;

/**
 * Memory the tmpfs folders together can never take. With no swap, tmpfs pages count
 * against the memory limit and nothing reclaims them, not even the OOM killer: folders
 * allowed to fill the limit leave the executor nothing, it is killed the next time it
 * needs memory, and the container, its running calls and its scratch files go with it.
 * Docker's 64 MiB /dev/shm comes out of this; the rest is the executor's (about 25 MiB)
 * and a fresh shell's, after the OOM killer has taken the agent's processes.
 */
const TMPFS_HEADROOM_MB = 128;
const TMPFS_FOLDERS = 3;
const MIN_TMPFS_MB = 8;

/** The size of each tmpfs folder: `tmpfsMb`, but all of them together leave `TMPFS_HEADROOM_MB` of the memory limit. */
export function tmpfsSizeMb({ memoryMb, tmpfsMb }: { memoryMb: number; tmpfsMb: number }): number {
  return Math.max(MIN_TMPFS_MB, Math.min(tmpfsMb, Math.floor((memoryMb - TMPFS_HEADROOM_MB) / TMPFS_FOLDERS)));
}

/** The executor's own log (the agent's output goes to it, not here) is capped like everything else. */
const LOG_CONFIG = { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '1' } };

/**
 * Capabilities of the executor, the only root process: it switches to the sandbox user
 * for every tool (SETUID, SETGID) and kills every agent process by uid (KILL). The
 * tools themselves run with none: a switch to a non-zero uid clears them all.
 */
export const EXECUTOR_CAPABILITIES = ['SETUID', 'SETGID', 'KILL'] as const;

/**
 * The hardened container for one session: the executor as main process under Docker's
 * init (which forwards signals and reaps orphans), root with three capabilities and
 * running every tool as the sandbox user; no-new-privileges, memory/CPU/pids limits,
 * read-only root with tmpfs scratch space, `/workspace` and `/mnt/session` on the session's disk.
 */
export function buildSandboxContainer(options: SandboxContainerOptions): SandboxContainer {
  const { sessionId, memoryMb } = options;
  const memoryBytes = memoryMb * 1024 * 1024;
  const tmpfs = `rw,nosuid,nodev,size=${tmpfsSizeMb(options)}m`;
  return new SandboxContainer(options.image)
    .withName(options.identity?.name ?? containerName(sessionId))
    .withLabels({ ...(options.identity?.labels ?? sessionLabels(sessionId, 'sandbox')), [LABEL_LAYOUT]: SANDBOX_LAYOUT })
    .withPullPolicy(PullPolicy.neverPull())
    // Sandboxes outlive the worker process by design (a new worker re-attaches), so no
    // reaper may remove them when this process exits.
    .withAutoCleanup(false)
    .withUser('0:0')
    .withWorkingDir(CONTAINER_PATHS.workspace)
    .withHostname('sandbox')
    .withEnvironment({
      HOME: CONTAINER_PATHS.home,
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      PYTHONDONTWRITEBYTECODE: '1',
      ...options.environment,
    })
    // -S: the executor is standard library only; skipping site (and its .pth hooks) is ~4 ms of every start.
    .withEntrypoint(['python3', '-S'])
    .withCommand([
      `${CONTAINER_PATHS.executor}/executor.py`,
      '--socket',
      CONTAINER_PATHS.socket,
      '--state',
      CONTAINER_PATHS.state,
      '--workspace',
      CONTAINER_PATHS.workspace,
      '--max-output-bytes',
      String(options.maxOutputBytes),
      '--default-timeout-ms',
      String(options.defaultTimeoutMs),
      '--sandbox-uid',
      String(SANDBOX_UID),
      '--sandbox-gid',
      String(SANDBOX_GID),
      '--egress-port',
      String(options.egressRelayPort),
      '--egress-socket',
      `${CONTAINER_PATHS.run}/${EGRESS_SOCKET_FILE}`,
      '--memory-root',
      CONTAINER_PATHS.memorySync,
    ])
    // No interface but loopback, whatever the policy: the relay to the worker's egress
    // proxy is the only way out, so nothing in the sandbox can bypass the policy.
    .withNetworkMode('none')
    .withDroppedCapabilities('ALL')
    .withAddedCapabilities(...EXECUTOR_CAPABILITIES)
    .withSecurityOpt('no-new-privileges')
    .withTmpFs({
      '/tmp': tmpfs,
      '/var/tmp': tmpfs,
      [CONTAINER_PATHS.home]: `${tmpfs},uid=${SANDBOX_UID},gid=${SANDBOX_GID}`,
    })
    .withHostConfig({
      Init: true,
      PidsLimit: options.pidsLimit,
      Memory: memoryBytes,
      // Equal to Memory: no swap on top of the limit.
      MemorySwap: memoryBytes,
      NanoCpus: Math.round(options.cpus * 1e9),
      CpuShares: options.cpuShares,
      ReadonlyRootfs: true,
      MaskedPaths: [...SANDBOX_MASKED_PATHS],
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      LogConfig: LOG_CONFIG,
      Mounts: [
        ...storageMounts(sessionId, options.storage),
        { Type: 'bind', Source: options.sessionDir, Target: CONTAINER_PATHS.run },
        { Type: 'bind', Source: options.trustDir, Target: CONTAINER_PATHS.trust, ReadOnly: true },
        { Type: 'bind', Source: options.executorDir, Target: CONTAINER_PATHS.executor, ReadOnly: true },
      ],
    })
    .withWaitStrategy(options.waitStrategy);
}

/**
 * Builds and starts the container; resolves once its executor answers on `client`'s
 * socket, with the container's id and the executor's boot id. A missing image is
 * `image_missing`; a name conflict (another worker made the container first) is thrown
 * as Docker's error, for the caller to adopt that container.
 */
export async function startSandboxContainer({
  client,
  readyTimeoutMs,
  ...options
}: Omit<SandboxContainerOptions, 'waitStrategy'> & { client: ExecutorClient; readyTimeoutMs: number }): Promise<{ containerId: string; bootId: string }> {
  const waitStrategy = new ExecutorReadyWaitStrategy({ client, timeoutMs: readyTimeoutMs });
  try {
    const started = await buildSandboxContainer({ ...options, waitStrategy }).start();
    if (waitStrategy.ping === undefined) throw new SandboxStartError('not_ready', 'sandbox executor never answered');
    return { containerId: started.getId(), bootId: waitStrategy.ping.boot_id };
  } catch (error) {
    if (error instanceof Error && /does not exist locally/.test(error.message)) {
      throw new SandboxStartError('image_missing', `sandbox image ${options.image} is not on the Docker host; build it with \`npm run setup\``, { cause: error });
    }
    if (!isNameConflict(error) && !(error instanceof SandboxStartError)) {
      throw new SandboxStartError('start_failed', `could not start the sandbox of session ${options.sessionId}: ${String(error)}`, { cause: error });
    }
    throw error;
  }
}

function storageMounts(sessionId: string, storage: SandboxContainerOptions['storage']): MountConfig {
  if (storage.type === 'disk') {
    const { memory } = storage.disk;
    return [
      { Type: 'bind', Source: storage.disk.workspace, Target: CONTAINER_PATHS.workspace },
      { Type: 'bind', Source: storage.disk.sessionFiles, Target: CONTAINER_PATHS.session },
      // Written by the worker from the host; the agent reads and runs what is there, and can change none of it.
      { Type: 'bind', Source: storage.disk.skills.root, Target: CONTAINER_PATHS.skills, ReadOnly: true },
      // A read-only store is a read-only mount: the agent cannot change it whatever it runs.
      ...(memory
        ? [
            { Type: 'bind' as const, Source: memory.root, Target: CONTAINER_PATHS.memorySync },
            ...memory.stores.map((store) => ({ Type: 'bind' as const, Source: store.path, Target: `${CONTAINER_PATHS.memory}/${store.slug}`, ReadOnly: store.readOnly })),
          ]
        : []),
    ];
  }
  return [
    {
      Type: 'volume',
      Source: volumeName(sessionId),
      Target: CONTAINER_PATHS.workspace,
      VolumeOptions: { NoCopy: false, Labels: sessionLabels(sessionId, 'workspace'), DriverConfig: { Name: 'local', Options: {} } },
    },
    {
      Type: 'volume',
      Source: sessionFilesVolumeName(sessionId),
      Target: CONTAINER_PATHS.session,
      VolumeOptions: { NoCopy: false, Labels: sessionLabels(sessionId, 'session-files'), DriverConfig: { Name: 'local', Options: {} } },
    },
  ];
}
