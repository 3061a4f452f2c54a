/**
 * The sandbox containers of one Longhaul engine, found by what they mount (each sandbox
 * binds its session folder from its driver's data folder): a session's or one waiting in
 * a warm pool, and nobody else's on the same Docker host.
 */
import { execFile } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { promisify } from 'node:util';
import { containerName, LABEL_LONGHAUL } from '../sandbox/sandbox-resources.ts';
import { commandLineOf, processesNamed, type ProcessUsage } from './process-usage.ts';

type EngineContainer = { id: string; pid: number; name: string };

export type ContainersCpu = {
  containers: number;
  /** How many of them are named after one of the sessions (the rest were started ahead of any, for a warm pool). */
  ofSessions: number;
  /** Sum of the containers' cgroup CPU usage over their whole life, ms. */
  cgroupCpuMs: number;
  /** Sum of their containerd shims' CPU (with the `runc` calls they reaped), ms. */
  shimCpuMs: number;
  /** Containers whose cgroup could not be read (gone, or a cgroup layout not known here). */
  unreadable: number;
};

/** CPU of the running containers of the engine whose data folder is `dataDir`; `processes` is a /proc snapshot taken now. */
export async function engineContainersCpu({ dataDir, sessionIds, processes }: { dataDir: string; sessionIds: ReadonlySet<string>; processes: ReadonlyMap<number, ProcessUsage> }): Promise<ContainersCpu> {
  const containers = (await engineContainers(dataDir)).filter((c) => c.pid > 0);
  const sessionNames = new Set([...sessionIds].map((id) => `/${containerName(id)}`));
  const usage: ContainersCpu = { containers: containers.length, ofSessions: 0, cgroupCpuMs: 0, shimCpuMs: 0, unreadable: 0 };
  for (const { pid, name } of containers) {
    if (sessionNames.has(name)) usage.ofSessions += 1;
    const cpuMs = cgroupCpuMs(pid);
    if (cpuMs === undefined) usage.unreadable += 1;
    else usage.cgroupCpuMs += cpuMs;
  }
  const ids = new Set(containers.map((c) => c.id));
  for (const shim of processesNamed(processes, 'containerd-shim')) {
    const args = commandLineOf(shim.pid);
    const containerId = args[args.indexOf('-id') + 1];
    if (containerId !== undefined && ids.has(containerId)) usage.shimCpuMs += shim.cpuMs;
  }
  return usage;
}

/**
 * Memory of the engine's warm-pool containers still waiting for a session (named
 * `longhaul-warm-…`), MiB: what a pool costs while it waits. Each container's cgroup
 * usage less its inactive file cache, as `docker stats` counts it.
 */
export async function waitingWarmContainersMemory(dataDir: string): Promise<{ containers: number; mib: number; unreadable: number }> {
  const waiting = (await engineContainers(dataDir)).filter((c) => c.pid > 0 && c.name.startsWith('/longhaul-warm-'));
  let bytes = 0;
  let unreadable = 0;
  for (const { pid } of waiting) {
    const used = cgroupMemoryBytes(pid);
    if (used === undefined) unreadable += 1;
    else bytes += used;
  }
  return { containers: waiting.length, mib: Math.round((bytes / 2 ** 20) * 10) / 10, unreadable };
}

/** Removes what the engine left running (after a kill, or a version that keeps some on stop); returns how many. */
export async function removeEngineContainers(dataDir: string): Promise<number> {
  const containers = await engineContainers(dataDir);
  if (containers.length > 0) await docker(['rm', '--force', '--volumes', ...containers.map((c) => c.id)], { missingIsFine: true });
  return containers.length;
}

async function engineContainers(dataDir: string): Promise<EngineContainer[]> {
  const ids = await docker(['ps', '--all', '--no-trunc', '--quiet', '--filter', `label=${LABEL_LONGHAUL}=1`]);
  if (ids.length === 0) return [];
  const roots = [...new Set([dataDir, realpathSync(dataDir)])].map((dir) => `${dir}/`);
  // Id, pid, name, then the mounts' sources; a container removed since `ps` is just not listed.
  const inspected = await docker(['inspect', '--format', '{{.Id}} {{.State.Pid}} {{.Name}}{{range .Mounts}} {{.Source}}{{end}}', ...ids], { missingIsFine: true });
  return inspected.flatMap((line) => {
    const [id = '', pid = '', name = '', ...sources] = line.split(' ');
    return sources.some((source) => roots.some((root) => source.startsWith(root))) ? [{ id, pid: Number(pid), name }] : [];
  });
}

/** The lines `docker <args>` printed; with `missingIsFine`, those it printed before failing on an object that is gone. */
async function docker(args: string[], { missingIsFine = false }: { missingIsFine?: boolean } = {}): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('docker', args, { maxBuffer: 10_000_000 }));
  } catch (error) {
    const printed = (error as { stdout?: unknown }).stdout;
    if (!missingIsFine || typeof printed !== 'string' || !/no such (object|container)/i.test(String((error as { stderr?: unknown }).stderr))) throw error;
    stdout = printed;
  }
  return stdout.split('\n').filter(Boolean);
}

/**
 * The folders of the cgroup `pid` is in that hold `controller`'s files, in the order to try
 * them: v1 hierarchies are listed before v2's `0::` line, so on a hybrid host v1's accounting wins.
 */
function cgroupFolders(pid: number, controller: string): { version: 1 | 2; dir: string }[] {
  return readOrEmpty(`/proc/${pid}/cgroup`)
    .split('\n')
    .flatMap<{ version: 1 | 2; dir: string }>((line) => {
      const [, controllers = '', path = ''] = line.split(':');
      if (controllers === '') return [`/sys/fs/cgroup${path}`, `/sys/fs/cgroup/unified${path}`].map((dir) => ({ version: 2 as const, dir }));
      if (!controllers.split(',').includes(controller)) return [];
      return [...new Set([controllers, controller, 'cpu,cpuacct'].filter((dir) => dir.split(',').includes(controller)))].map((dir) => ({ version: 1 as const, dir: `/sys/fs/cgroup/${dir}${path}` }));
    });
}

/** CPU of the cgroup `pid` is in, ms: v1's `cpuacct.usage`, or v2's `cpu.stat`. */
function cgroupCpuMs(pid: number): number | undefined {
  for (const { version, dir } of cgroupFolders(pid, 'cpuacct')) {
    if (version === 1) {
      const text = readOrEmpty(`${dir}/cpuacct.usage`).trim();
      if (text !== '') return Number(text) / 1e6;
    } else {
      const usec = /^usage_usec (\d+)$/m.exec(readOrEmpty(`${dir}/cpu.stat`))?.[1];
      if (usec !== undefined) return Number(usec) / 1000;
    }
  }
  return undefined;
}

/** Memory of the cgroup `pid` is in, less inactive file cache, bytes: v1's `memory.usage_in_bytes`, or v2's `memory.current`. */
function cgroupMemoryBytes(pid: number): number | undefined {
  for (const { version, dir } of cgroupFolders(pid, 'memory')) {
    const usage = readOrEmpty(`${dir}/${version === 1 ? 'memory.usage_in_bytes' : 'memory.current'}`).trim();
    if (usage === '') continue;
    const inactive = new RegExp(`^${version === 1 ? 'total_inactive_file' : 'inactive_file'} (\\d+)$`, 'm').exec(readOrEmpty(`${dir}/memory.stat`))?.[1];
    return Number(usage) - Number(inactive ?? 0);
  }
  return undefined;
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
