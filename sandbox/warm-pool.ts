import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { containerName, LABEL_WARM_OWNER, warmContainerName } from './sandbox-resources.ts';
import { dockerClient, removeContainer } from './session-containers.ts';
import { BurstDemand } from './burst-demand.ts';
import { readdirOrEmpty } from './fs-if-present.ts';
import type { MountedDisk, SessionDisks } from './session-disk.ts';
import { prepareSessionFolder } from './session-folder.ts';
import { type SpareCpu, spareCpuGauge } from './spare-cpu.ts';
import type { StartPacer } from './start-pacer.ts';
import type { SandboxLogger } from './types.ts';
import { recordWarmPool } from '../src/telemetry/metric-instruments.ts';

/**
 * What a warm container was started with, and so which sessions it can serve: those
 * that would get exactly this container if started cold.
 */
export type WarmKey = {
  image: string;
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
  diskMb: number;
  /** Whether its environment has the package registries' settings (its networking lets it reach them). */
  packageRegistries: boolean;
};

/** A started container of the pool, waiting for a session. */
export type WarmSlot = { id: string; key: WarmKey; containerId: string; bootId: string };

export type StartWarmContainer = (slot: { slotId: string; key: WarmKey; folder: string; disk: MountedDisk }) => Promise<{ containerId: string; bootId: string }>;

export type WarmPoolOptions = {
  /** Folder of the pool's files (`<dataDir>/.warm`): each owner's socket and slot folders. */
  root: string;
  /** Containers kept ready per key, at least. */
  size: number;
  /**
   * Containers kept ready per key at most: past `size`, the pool holds as many as new
   * sessions lately asked for at once (`BurstDemand`), started with CPU the machine has
   * to spare, and gives the extra back once those asks are older than `demandHoldMs`.
   * Default `size`: a pool of fixed size.
   */
  maxSize?: number;
  /** How long a burst of asks keeps the pool grown. Default ten minutes. */
  demandHoldMs?: number;
  /** Whether the machine has CPU to spare for a container past `size`. Default: its cores half idle (`spareCpuGauge`). */
  spareCpu?: SpareCpu;
  /** How long after a failed start the pool tries again, if no session asked for its kind meanwhile. Default 30 s. */
  retryAfterMs?: number;
  disks: SessionDisks;
  /** Refills wait their turn behind sessions' starts. */
  pacer: StartPacer;
  /** Starts the slot's container on its folder and disk; resolves once its executor answers. */
  start: StartWarmContainer;
  logger?: SandboxLogger | undefined;
};

/** Kinds of sandbox kept warm at once; asking for another drops the least recently asked for. */
const MAX_WARM_KEYS = 3;

/** Asks this close together count as one burst: about how long a burst outruns the refill. */
const BURST_WINDOW_MS = 10_000;

/** How often a grown pool looks for containers past its demand, to give them back. */
const SHRINK_EVERY_MS = 30_000;

/** How long a pool that would grow waits after the machine had no CPU to spare. */
const SPARE_CPU_RECHECK_MS = 500;

/**
 * Containers started ahead of sessions, a few per kind of sandbox asked for, so a new
 * session's sandbox is there at once. A slot is used by one session, for good: a claim
 * renames its folder, disk and container to the session's, after which it is exactly
 * what a cold start would have made (see `claim`), and a released or destroyed session's
 * container is removed like any other, never returned here.
 *
 * A pool keeps `size` per kind, or, with `maxSize` above it, as many as the largest recent
 * burst of new sessions of that kind: a burst past the pool starts cold, and the next one
 * of its size finds its containers. Past `size`, containers start one at a time and only
 * while the machine has CPU to spare, so they never compete with the burst's own steps.
 *
 * Every driver owns its pool and claims only its own slots, so two drivers on one data
 * folder never hand out the same container. Each owner listens on `<root>/<owner>.sock`
 * while it lives; a driver starting or closing removes what owners that no longer listen
 * left (their unclaimed containers, disks and folders), and nothing of anyone else's.
 *
 * Names: a slot `<owner>-<n>` has the folder `<root>/<owner>/<slot>`, the disk
 * `.warm-<slot>` (a name no session id can have) and the container `longhaul-warm-<slot>`.
 */
export class WarmPool {
  readonly owner = randomBytes(6).toString('hex');
  readonly #root: string;
  readonly #size: number;
  readonly #maxSize: number;
  readonly #demandHoldMs: number;
  readonly #spareCpu: SpareCpu;
  readonly #retryAfterMs: number;
  readonly #shrinking: NodeJS.Timeout | undefined;
  readonly #disks: SessionDisks;
  readonly #pacer: StartPacer;
  readonly #start: StartWarmContainer;
  readonly #logger: SandboxLogger | undefined;
  /** Per key: its ready slots (oldest first), when it was last wanted, its new sessions' asks, and whether its last start failed (no refill until wanted again, or `retryAfterMs`). */
  readonly #pools = new Map<string, KeyPool>();
  /** Claims and removals under way: `close` waits for them. */
  readonly #pending = new Set<Promise<unknown>>();
  #filling: Promise<void> | undefined;
  #announced: Promise<Server> | undefined;
  #closedOnce: Promise<void> | undefined;
  /** Cuts short a wait for spare CPU when the pool closes. */
  readonly #closing = new AbortController();
  #slots = 0;

  constructor({ root, size, maxSize = size, demandHoldMs = 600_000, spareCpu = spareCpuGauge(), retryAfterMs = 30_000, disks, pacer, start, logger }: WarmPoolOptions) {
    if (maxSize < size) throw new RangeError(`a warm pool's maximum size (${maxSize}) is below its size (${size})`);
    this.#root = root;
    this.#size = size;
    this.#maxSize = maxSize;
    this.#demandHoldMs = demandHoldMs;
    this.#spareCpu = spareCpu;
    this.#retryAfterMs = retryAfterMs;
    this.#shrinking = maxSize > size ? setInterval(() => this.#shrink(), Math.min(SHRINK_EVERY_MS, demandHoldMs)).unref() : undefined;
    this.#disks = disks;
    this.#pacer = pacer;
    this.#start = start;
    this.#logger = logger;
  }

  /** Containers ready now, all keys together. */
  get ready(): number {
    return [...this.#pools.values()].reduce((sum, pool) => sum + pool.ready.length, 0);
  }

  /** Whether the pool keeps any container at all. */
  get enabled(): boolean {
    return this.#maxSize > 0;
  }

  /** Keeps at least `size` containers of `key` ready from now on, started in the background. */
  want(key: WarmKey): void {
    if (this.#isClosed || !this.enabled) return;
    const id = keyId(key);
    const known = this.#pools.get(id);
    const pool = known ?? { key, ready: [], askedAt: 0, failed: false, demand: new BurstDemand({ windowMs: BURST_WINDOW_MS, holdMs: this.#demandHoldMs }) };
    pool.askedAt = performance.now();
    pool.failed = false;
    this.#pools.set(id, pool);
    if (this.#pools.size > MAX_WARM_KEYS) {
      const [oldest] = [...this.#pools.entries()].sort(([, a], [, b]) => a.askedAt - b.askedAt);
      if (oldest !== undefined) {
        this.#pools.delete(oldest[0]);
        for (const slot of oldest[1].ready) this.#track(this.#discard(slot.id));
      }
    }
    this.#fill();
    // Only a new kind (and the one it pushed out) changes the gauges here; a session's ask is reported by `take`.
    if (known === undefined) this.#report();
  }

  /**
   * A ready container of `key` for a new session, taken out of the pool (which refills), or
   * undefined. Either way the ask counts towards how many the pool keeps (see `maxSize`).
   */
  take(key: WarmKey): WarmSlot | undefined {
    const pool = this.#pools.get(keyId(key));
    pool?.demand.ask();
    const slot = pool?.ready.shift();
    this.#fill();
    this.#report();
    return slot;
  }

  /** How many containers of the pool's key it keeps now: its size, or its recent demand up to `maxSize`. */
  #target(pool: KeyPool): number {
    return Math.min(this.#maxSize, Math.max(this.#size, pool.demand.peak()));
  }

  /** Gives back the containers a pool holds past its demand, the longest idle first. */
  #shrink(): void {
    for (const pool of this.#pools.values()) {
      const extra = pool.ready.length - this.#target(pool);
      if (extra > 0) for (const slot of pool.ready.splice(0, extra)) this.#track(this.#discard(slot.id));
    }
    this.#report();
  }

  /** The pool's gauges (`longhaul.sandbox.warm_pool.*`): what it holds and what it keeps now. */
  #report(): void {
    const pools = [...this.#pools.values()];
    recordWarmPool({ ready: this.ready, target: this.#isClosed ? 0 : pools.reduce((sum, pool) => sum + this.#target(pool), 0) });
  }

  /**
   * Makes the slot the session's, which must have nothing yet: its disk becomes the
   * session's disk, its container the session's container, its folder the session's host
   * folder. Each step takes a name the session's own start could be taking at the same
   * time in another worker, and fails rather than replace what is there. The disk comes
   * first: a cold start makes (or mounts) it before it makes a container. The folder comes
   * last, once the container's name is the session's: it holds the running executor's
   * socket, and no other container may ever start on a folder where a foreign executor
   * answers. A failed claim removes what still has the slot's names (and the container, if
   * it had the session's name already: without its folder it serves nobody), and leaves
   * what already has the session's (an empty disk: just what a cold start makes), so the
   * session then starts cold and finds it.
   */
  async claim(slot: WarmSlot, { sessionId, sessionFolder }: { sessionId: string; sessionFolder: string }): Promise<boolean> {
    const claimed = this.#claim(slot, sessionId, sessionFolder);
    this.#track(claimed);
    return claimed;
  }

  async #claim(slot: WarmSlot, sessionId: string, sessionFolder: string): Promise<boolean> {
    const docker = await dockerClient();
    let named = false;
    try {
      // Its folder renamed, mount and all: no host command, no change to the mount table.
      if (!(await this.#disks.adopt(slotDisk(slot.id), sessionId))) throw new Error('the session has a disk already');
      // Docker refuses a name in use (409): the session's own start may have taken it.
      await docker.getContainer(slot.containerId).rename({ name: containerName(sessionId) });
      named = true;
      // rename(2) replaces nothing but an empty folder: a session folder made meanwhile stays.
      await rename(this.#slotFolder(slot.id), sessionFolder);
      return true;
    } catch (error) {
      this.#logger?.debug('warm sandbox not claimed; the session starts cold', { sessionId, slot: slot.id, reason: String(error) });
      const undo = async () => {
        if (named) await removeContainer(docker.getContainer(slot.containerId));
        await this.#discard(slot.id);
      };
      await undo().catch((undoError: unknown) => this.#logger?.info('could not remove a warm sandbox', { slot: slot.id, error: String(undoError) }));
      return false;
    }
  }

  /**
   * Stops refilling, removes this pool's unclaimed containers and what dead owners left.
   * The pool stays closed; closing again waits for the first close (`stopStarting`, then
   * the driver's `close`).
   */
  close(): Promise<void> {
    this.#closedOnce ??= this.#close();
    return this.#closedOnce;
  }

  get #isClosed(): boolean {
    return this.#closedOnce !== undefined;
  }

  async #close(): Promise<void> {
    this.#closing.abort();
    clearInterval(this.#shrinking);
    await this.#filling;
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    const ready = [...this.#pools.values()].flatMap((pool) => pool.ready);
    this.#pools.clear();
    this.#report();
    await Promise.all(ready.map((slot) => this.#discard(slot.id)));
    const server = await this.#announced?.catch(() => undefined);
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.#removeOwner(this.owner);
    await this.removeAbandoned();
  }

  /**
   * Removes what pools of owners that no longer listen left under `root`. Best effort:
   * two drivers may be at it at once, and whatever is left is found again next time.
   */
  async removeAbandoned(): Promise<void> {
    const owners = new Set((await readdirOrEmpty(this.#root)).map((name) => name.replace(/\.sock$/, '')));
    owners.delete(this.owner);
    for (const owner of owners) {
      if (await listening(this.#socketPath(owner))) continue;
      await this.#removeOwner(owner).catch((error: unknown) => this.#logger?.info("could not remove a stopped worker's warm sandboxes", { owner, error: String(error) }));
    }
  }

  /** One refill loop at a time; it runs until every wanted pool is full. */
  #fill(): void {
    if (this.#filling !== undefined || this.#isClosed || this.#nextToFill() === undefined) return;
    this.#filling = this.#fillAll().finally(() => {
      this.#filling = undefined;
      this.#fill();
    });
  }

  /** The most recently wanted pool below its floor, else the most recently wanted below its target. */
  #nextToFill(): KeyPool | undefined {
    const pools = [...this.#pools.values()].filter((pool) => !pool.failed).sort((a, b) => b.askedAt - a.askedAt);
    return pools.find((pool) => pool.ready.length < this.#size) ?? pools.find((pool) => pool.ready.length < this.#target(pool));
  }

  async #fillAll(): Promise<void> {
    for (let pool = this.#nextToFill(); pool !== undefined && !this.#isClosed; pool = this.#nextToFill()) {
      const { key } = pool;
      // Past the floor, a container waits for spare CPU: while a burst's sessions run their
      // steps, starting more would slow them for the sake of the next burst.
      if (pool.ready.length >= this.#size && !(await this.#spareCpu())) {
        await sleep(SPARE_CPU_RECHECK_MS, undefined, { signal: this.#closing.signal }).catch(() => undefined);
        continue;
      }
      try {
        await this.#announce();
        const slot = await this.#pacer.run('refill', () => this.#startSlot(key));
        const current = this.#pools.get(keyId(key));
        if (current === undefined || this.#isClosed) await this.#discard(slot.id);
        else {
          current.ready.push(slot);
          this.#report();
        }
      } catch (error) {
        // Closing (the driver stopped its starts first): nothing to try again, nothing to say.
        if (this.#isClosed) return;
        // Tried again when the next session asks for it, or after a pause: a busy host's
        // transient failure must not leave the pool short until then, and a lasting one
        // (no image, no Docker) costs one attempt and one log line per pause.
        pool.failed = true;
        setTimeout(() => {
          pool.failed = false;
          this.#fill();
        }, this.#retryAfterMs).unref();
        this.#logger?.info('could not start a warm sandbox', { image: key.image, retryInSeconds: this.#retryAfterMs / 1000, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  async #startSlot(key: WarmKey): Promise<WarmSlot> {
    this.#slots += 1;
    const id = `${this.owner}-${this.#slots}`;
    try {
      const folder = await prepareSessionFolder(this.#slotFolder(id));
      const disk = await this.#disks.mount(slotDisk(id), key.diskMb);
      const { containerId, bootId } = await this.#start({ slotId: id, key, folder, disk });
      return { id, key, containerId, bootId };
    } catch (error) {
      await this.#discard(id);
      throw error;
    }
  }

  /** The owner's folder, then its socket: an owner with slots always has a folder, and is alive while the socket answers. */
  #announce(): Promise<Server> {
    this.#announced ??= (async () => {
      await mkdir(join(this.#root, this.owner), { recursive: true, mode: 0o700 });
      await this.removeAbandoned().catch((error: unknown) => this.#logger?.info("could not look for stopped workers' warm sandboxes", { error: String(error) }));
      const server = createServer((connection) => connection.destroy());
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.#socketPath(this.owner), () => resolve());
      });
      server.unref();
      return server;
    })();
    return this.#announced;
  }

  /** Removes whatever still has the slot's names; what a claim gave a session has the session's. */
  async #discard(slotId: string): Promise<void> {
    const docker = await dockerClient();
    await removeContainer(docker.getContainer(warmContainerName(slotId)));
    await this.#disks.remove(slotDisk(slotId));
    await rm(this.#slotFolder(slotId), { recursive: true, force: true });
  }

  /** Everything of an owner's pool that no session claimed; its folder and socket go last, so an interrupted removal is found again. */
  async #removeOwner(owner: string): Promise<void> {
    const docker = await dockerClient();
    const slots = new Set<string>();
    for (const container of await docker.listContainers({ all: true, filters: { label: [`${LABEL_WARM_OWNER}=${owner}`] } })) {
      for (const name of container.Names) {
        const slot = name.replace(/^\/?longhaul-warm-/, '');
        if (slot !== name && slot.startsWith(`${owner}-`)) slots.add(slot);
      }
    }
    for (const name of await this.#disks.names()) {
      const slot = /^\.warm-(.+)$/.exec(name)?.[1];
      if (slot?.startsWith(`${owner}-`)) slots.add(slot);
    }
    for (const name of await readdirOrEmpty(join(this.#root, owner))) slots.add(name);
    // Removing a slot's disk removes a half-made one too (a start that was cut short).
    await Promise.all([...slots].filter((slot) => SLOT_ID.test(slot)).map((slot) => this.#discard(slot)));
    await rm(join(this.#root, owner), { recursive: true, force: true });
    await unlink(this.#socketPath(owner)).catch(() => undefined);
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => this.#logger?.info('could not remove a warm sandbox', { error: String(error) }));
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }

  #slotFolder(slotId: string): string {
    return join(this.#root, slotId.slice(0, slotId.indexOf('-')), slotId);
  }

  #socketPath(owner: string): string {
    return join(this.#root, `${owner}.sock`);
  }
}

type KeyPool = { key: WarmKey; ready: WarmSlot[]; askedAt: number; failed: boolean; demand: BurstDemand };

/** `<owner>-<n>`: the owner's 12 hex digits, then a count. */
const SLOT_ID = /^[0-9a-f]{12}-\d+$/;

/** The disk name of a slot: no session id starts with a dot. */
function slotDisk(slotId: string): string {
  return `.warm-${slotId}`;
}

function keyId({ image, memoryMb, cpus, pidsLimit, diskMb, packageRegistries }: WarmKey): string {
  return JSON.stringify([image, memoryMb, cpus, pidsLimit, diskMb, packageRegistries]);
}

/**
 * Whether a pool's owner is alive: its socket accepts a connection. A Unix socket that
 * refuses (or is gone) has no process behind it; any other failure counts as alive, so
 * a busy owner's containers are never taken from under it.
 */
function listening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = createConnection(socketPath);
    connection.once('connect', () => {
      connection.destroy();
      resolve(true);
    });
    connection.once('error', (error: NodeJS.ErrnoException) => {
      connection.destroy();
      resolve(error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT');
    });
  });
}
