/**
 * CPU time and resident memory of host processes, read from /proc (Linux only), for
 * benchmarks that split a run's cost by process.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** One process as /proc/<pid>/stat shows it. */
export type ProcessUsage = {
  pid: number;
  ppid: number;
  /** Its process group: what a terminal's Ctrl-C reaches together. */
  pgrp: number;
  /** The kernel's short name (`comm`, at most 15 characters), e.g. `dockerd`, `containerd-shim`. */
  name: string;
  /**
   * CPU it used (user + system) plus what its exited children used once it reaped them,
   * in ms. Summed over a process tree, a child that exits between two readings moves
   * from its own entry to its parent's, so a tree's total neither loses nor doubles it.
   */
  cpuMs: number;
  /** CPU its own threads used (user + system), in ms, without its reaped children's. */
  ownCpuMs: number;
  rssBytes: number;
};

const TICKS_PER_SECOND = getconf('CLK_TCK', 100);
const PAGE_BYTES = getconf('PAGESIZE', 4096);

/** The process `pid`, or undefined once it is gone. */
export function readProcess(pid: number): ProcessUsage | undefined {
  return readStat(`/proc/${pid}/stat`, pid);
}

/** The live threads of a process, by thread id: each one's name (`comm`) and own CPU so far (ms). */
export type ThreadsCpu = Map<number, { name: string; cpuMs: number }>;

/**
 * The live threads of `pid`. In a Node process they are named `MainThread`, `V8Worker`
 * (V8's garbage collection and compilation helpers), `WorkerThread` (worker threads),
 * `libuv-worker`, and whatever native modules name theirs. Empty once the process is gone.
 */
export function readThreadsCpu(pid: number): ThreadsCpu {
  const threads: ThreadsCpu = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    // The task's own stat: /proc/<pid>/stat is the whole process's.
    const thread = readStat(`/proc/${pid}/task/${tid}/stat`, Number(tid));
    if (thread) threads.set(thread.pid, { name: thread.name, cpuMs: thread.ownCpuMs });
  }
  return threads;
}

/**
 * CPU each kind of thread used between two readings, by name, in ms: threads alive at the
 * second, less what they had at the first (0 for one started in between). What threads
 * that ended in between used is in none of them.
 */
export function threadCpuBetween(before: ThreadsCpu, after: ThreadsCpu): Map<string, number> {
  const byName = new Map<string, number>();
  for (const [tid, { name, cpuMs }] of after) byName.set(name, (byName.get(name) ?? 0) + cpuMs - (before.get(tid)?.cpuMs ?? 0));
  return byName;
}

function readStat(path: string, pid: number): ProcessUsage | undefined {
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // The name is in parentheses and may itself hold spaces and parentheses: the fields follow the last ')'.
  const nameEnd = stat.lastIndexOf(')');
  const fields = stat.slice(nameEnd + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  const own = field(14) + field(15);
  const ticks = own + field(16) + field(17);
  return { pid, ppid: field(4), pgrp: field(5), name: stat.slice(stat.indexOf('(') + 1, nameEnd), cpuMs: (ticks * 1000) / TICKS_PER_SECOND, ownCpuMs: (own * 1000) / TICKS_PER_SECOND, rssBytes: field(24) * PAGE_BYTES };
}

/** The whole machine's CPU time so far, from /proc/stat's first line, in ms summed over cores: busy, and busy plus idle. */
export type MachineCpu = { busyMs: number; totalMs: number };

export function readMachineCpu(): MachineCpu {
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busyMs: (busy * 1000) / TICKS_PER_SECOND, totalMs: ((busy + idle + iowait) * 1000) / TICKS_PER_SECOND };
}

/** Every process visible in /proc now, by pid. */
export function readProcesses(): Map<number, ProcessUsage> {
  const processes = new Map<number, ProcessUsage>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const usage = readProcess(Number(entry));
    if (usage) processes.set(usage.pid, usage);
  }
  return processes;
}

/** CPU of `rootPid` and every live descendant (each with what it reaped), in ms; 0 when it is gone. */
export function treeCpuMs(processes: ReadonlyMap<number, ProcessUsage>, rootPid: number): number {
  const children = new Map<number, number[]>();
  for (const { pid, ppid } of processes.values()) {
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  let total = 0;
  const pending = [rootPid];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    total += processes.get(pid)?.cpuMs ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** The processes called `name` (their `comm`). */
export function processesNamed(processes: ReadonlyMap<number, ProcessUsage>, name: string): ProcessUsage[] {
  return [...processes.values()].filter((p) => p.name === name);
}

/** The command line of `pid` as its arguments; empty once it is gone. */
export function commandLineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function getconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}
