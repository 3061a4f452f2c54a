/**
 * CPU and memory of a `longhaul dev` (its own process and its Temporal dev server) and
 * of the Docker daemons its sandboxes run under, for the concurrency benchmark.
 */
import type { LonghaulDevProcess } from './longhaul-dev-process.ts';
import { processesNamed, readProcess, readProcesses, treeCpuMs, type ProcessUsage } from './process-usage.ts';
import { round } from './stats.ts';

const MIB = 1024 * 1024;
const RSS_SAMPLE_INTERVAL_MS = 100;

/** CPU used so far, ms, by process. */
export type EngineCpu = {
  /** `longhaul dev` (API, worker, store) and the short-lived children it reaped, without its Temporal server. */
  longhaul: number;
  temporal_server: number;
  /** The Docker daemons: shared with anything else that uses Docker on this host. */
  dockerd: number;
  containerd: number;
};

/** `processes` is a /proc snapshot; default now. */
export function engineCpu(dev: LonghaulDevProcess, processes: ReadonlyMap<number, ProcessUsage> = readProcesses()): EngineCpu {
  const temporal = treeCpuMs(processes, dev.temporalPid);
  const named = (name: string) => processesNamed(processes, name).reduce((sum, p) => sum + p.cpuMs, 0);
  return { longhaul: treeCpuMs(processes, dev.pid) - temporal, temporal_server: temporal, dockerd: named('dockerd'), containerd: named('containerd') };
}

export type EngineRss = { longhaul: number; temporal_server: number; total: number };

/** Resident memory now, MiB. */
export function engineRssMib(dev: LonghaulDevProcess): EngineRss {
  const longhaul = (readProcess(dev.pid)?.rssBytes ?? 0) / MIB;
  const temporal = (readProcess(dev.temporalPid)?.rssBytes ?? 0) / MIB;
  return { longhaul: round(longhaul), temporal_server: round(temporal), total: round(longhaul + temporal) };
}

/** Samples resident memory every 100 ms until `stop()`; `peak` holds the highest of each (MiB). */
export function sampleEnginePeakRss(dev: LonghaulDevProcess): { peak: EngineRss; stop(): void } {
  const peak: EngineRss = engineRssMib(dev);
  const sample = () => {
    const now = engineRssMib(dev);
    for (const key of ['longhaul', 'temporal_server', 'total'] as const) peak[key] = Math.max(peak[key], now[key]);
  };
  const timer = setInterval(sample, RSS_SAMPLE_INTERVAL_MS);
  let stopped = false;
  return {
    peak,
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      sample();
    },
  };
}
