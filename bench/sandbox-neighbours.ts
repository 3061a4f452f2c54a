/**
 * Benchmark: what one session's runaway sandbox costs the sessions next to it.
 *
 * A neighbour session takes short steps (one bash `echo hi` through its own executor,
 * and whole turns: user.message → model → bash → model → idle) while another sandbox
 * on the same Docker host runs nothing, a CPU hog (8 busy loops, more than any
 * host here has cores), or a fork bomb relaunched as soon as the pid guard kills it.
 * Each load runs under each CPU setting in `SETTINGS`, so the report shows what the
 * per-session share buys. The attacker's CPU use comes from its cgroup; the host's
 * from /proc/stat.
 *
 * The weight only counts against sibling cgroups, and here the worker and Temporal are
 * host processes. So during the hog a stand-in for a containerized Temporal or
 * PostgreSQL (a container at Docker's default weight, wanting every core) runs for a
 * few seconds, and the report shows how the cores split between it and the hog.
 * No targets: these are figures to compare, not gates.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_SANDBOX_CPU_SHARES, DEFAULT_SANDBOX_CPUS, DEFAULT_SANDBOX_IMAGE, DockerSandboxDriver } from '../sandbox/docker-sandbox-driver.ts';
import type { DockerSandbox } from '../sandbox/docker-sandbox.ts';
import type { DevServer } from '../src/temporal/dev-server.ts';
import { lastToolResults, text, toolUse, userMessage, type ScriptFunction } from '../src/testing/index.ts';
import { collectEvents, isIdle, startHarness } from '../test/support/harness.ts';
import { readMachineCpu } from './process-usage.ts';
import { progress, round, summarize } from './stats.ts';

type CpuSetting = { name: string; cpus: number; cpuShares: number };

/** Before (1 core at Docker's default weight), the defaults now, and the half-core cap that was the alternative. */
const SETTINGS: readonly CpuSetting[] = [
  { name: 'cpus_1_shares_1024', cpus: 1, cpuShares: 1024 },
  { name: 'default', cpus: DEFAULT_SANDBOX_CPUS, cpuShares: DEFAULT_SANDBOX_CPU_SHARES },
  { name: 'cpus_0.5_shares_256', cpus: 0.5, cpuShares: DEFAULT_SANDBOX_CPU_SHARES },
];
const SERVICE_SECONDS = 4;
const exec = promisify(execFile);

const LOADS = ['cpu_hog', 'fork_bomb'] as const;
type Load = (typeof LOADS)[number];

const HOG = 'for i in $(seq 8); do (while :; do :; done) & done; wait';
// Returns only when the pid guard kills every process of the sandbox (or at the timeout).
const BOMB = ':(){ :|:& };:; sleep 30';

const agent = { name: 'neighbour', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };

type Scenario = { name: string; setting: CpuSetting; load: Load | undefined };
type Window = { echo: number[]; steps: number[]; attackerNs: number; wallNs: number; hostBusy: number; hostTotal: number };

/**
 * The other engineers and services of a shared host come and go: each scenario is
 * measured in `rounds` short windows, the scenarios taking turns, so a burst of outside
 * load spreads over all of them instead of landing on one.
 */
export async function measureSandboxNeighbours({ temporal, samples, rounds = 3 }: { temporal: DevServer; samples: number; rounds?: number }) {
  // Every turn: one bash call, then done.
  const script: ScriptFunction = (request) => (lastToolResults(request).length === 0 ? { content: [toolUse('bash', { command: 'echo hi' })] } : { content: [text('ok')] });
  await using h = await startHarness({ temporal, script, heartbeatEveryMs: 1000 });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('warm up')] });
  let lastEventId = (await collectEvents(h.longhaul, session.id, isIdle)).at(-1)!.id;
  // The session's own container, reached by its driver: `ensure` finds the running one.
  const neighbour = await h.sandboxes.ensure({ sessionId: session.id, networking: { type: 'limited' } });
  const step = async (): Promise<number> => {
    const startedMs = performance.now();
    await h.longhaul.events.send(session.id, [userMessage('step')]);
    lastEventId = (await collectEvents(h.longhaul, session.id, isIdle, { after: lastEventId })).at(-1)!.id;
    return performance.now() - startedMs;
  };

  const defaults = SETTINGS.find((s) => s.name === 'default')!;
  const scenarios: Scenario[] = [{ name: 'no_load', setting: defaults, load: undefined }, ...SETTINGS.flatMap((setting) => LOADS.map((load) => ({ name: `${setting.name}.${load}`, setting, load })))];
  const windows = new Map<string, Window>(scenarios.map((s) => [s.name, { echo: [], steps: [], attackerNs: 0, wallNs: 0, hostBusy: 0, hostTotal: 0 }]));
  const attackers = new Map<string, { driver: DockerSandboxDriver; sessionId: string; sandbox: DockerSandbox }>();
  const perWindow = Math.max(1, Math.ceil(samples / rounds));
  const results: Record<string, unknown> = {
    host_cores: availableParallelism(),
    samples_per_figure: perWindow * rounds,
    rounds,
    loads: { cpu_hog: HOG, fork_bomb: `${BOMB} (relaunched as soon as the pid guard kills it)` },
    settings: Object.fromEntries(SETTINGS.map((s) => [s.name, { cpus: s.cpus, cpu_shares: s.cpuShares }])),
  };
  try {
    for (const setting of SETTINGS) {
      const driver = new DockerSandboxDriver({ dataDir: join(h.dataDir, 'attackers', setting.name), cpus: setting.cpus, cpuShares: setting.cpuShares });
      const sessionId = `bench-attacker-${randomBytes(4).toString('hex')}`;
      attackers.set(setting.name, { driver, sessionId, sandbox: await driver.ensure({ sessionId, networking: { type: 'limited' } }) });
    }
    for (let pass = 0; pass < rounds; pass++) {
      for (const scenario of scenarios) {
        // Sessions share one setting: the neighbour's container gets the attacker's.
        await exec('docker', ['update', '--cpus', String(scenario.setting.cpus), '--cpu-shares', String(scenario.setting.cpuShares), neighbour.containerId]);
        const attacker = attackers.get(scenario.setting.name)!.sandbox;
        const running = scenario.load ? startLoad(attacker, scenario.load) : undefined;
        // Let the load reach its steady state (a bomb's first explosion, every hog loop running).
        if (running) await new Promise((r) => setTimeout(r, 1500));
        const window = windows.get(scenario.name)!;
        const attackerBefore = (await containerCpuNs(attacker.containerId)) ?? 0;
        const hostBefore = readMachineCpu();
        const startedMs = performance.now();
        try {
          await echoOnce(neighbour);
          for (let i = 0; i < perWindow; i++) window.echo.push(await echoOnce(neighbour));
          for (let i = 0; i < perWindow; i++) window.steps.push(await step());
        } finally {
          window.wallNs += (performance.now() - startedMs) * 1e6;
          window.attackerNs += ((await containerCpuNs(attacker.containerId)) ?? 0) - attackerBefore;
          const hostAfter = readMachineCpu();
          window.hostBusy += hostAfter.busyMs - hostBefore.busyMs;
          window.hostTotal += hostAfter.totalMs - hostBefore.totalMs;
          await running?.stop();
        }
        progress(`neighbours, round ${pass + 1}/${rounds}, ${scenario.name}: step p50 so far ${summarize(window.steps).p50_ms} ms`);
      }
    }
    for (const scenario of scenarios) {
      const window = windows.get(scenario.name)!;
      const figures: Record<string, unknown> = {
        neighbour_bash_echo: summarize(window.echo),
        neighbour_session_step: summarize(window.steps),
        attacker_cpu_cores: scenario.load ? round(window.attackerNs / window.wallNs) : null,
        host_cpu_busy_cores: round((window.hostBusy / Math.max(1, window.hostTotal)) * availableParallelism()),
      };
      if (scenario.load === undefined) {
        results['no_load'] = figures;
        continue;
      }
      const bySetting = (results[scenario.setting.name] ??= {}) as Record<string, unknown>;
      bySetting[scenario.load] = figures;
    }
    for (const setting of SETTINGS) {
      const attacker = attackers.get(setting.name)!.sandbox;
      const running = startLoad(attacker, 'cpu_hog');
      try {
        await new Promise((r) => setTimeout(r, 1500));
        ((results[setting.name] as Record<string, Record<string, unknown>>)['cpu_hog']!)['sibling_service_vs_hog'] = await siblingServiceShare(attacker.containerId);
      } finally {
        await running.stop();
      }
    }
  } finally {
    for (const { driver, sessionId } of attackers.values()) {
      await driver.destroy(sessionId, { removeVolume: true }).catch(() => undefined);
      await driver.close();
    }
  }
  return results;
}

/**
 * Runs a container at Docker's default weight that wants every core (what Temporal or
 * PostgreSQL from temporal-compose.yml are when busy) next to the hog, and reports the
 * cores each got.
 */
async function siblingServiceShare(attackerId: string): Promise<{ service_cpu_cores: number | null; attacker_cpu_cores: number | null }> {
  const image = process.env['LONGHAUL_SANDBOX_IMAGE'] ?? DEFAULT_SANDBOX_IMAGE;
  const name = `longhaul-bench-service-${randomBytes(4).toString('hex')}`;
  const busy = `for i in $(seq ${availableParallelism()}); do (while :; do :; done) & done; wait`;
  const { stdout } = await exec('docker', ['run', '-d', '--rm', '--name', name, '--label', 'longhaul=1', '--network', 'none', '--entrypoint', 'bash', image, '-c', busy]);
  const serviceId = stdout.trim();
  try {
    await new Promise((r) => setTimeout(r, 500));
    const before = [await containerCpuNs(serviceId), await containerCpuNs(attackerId)];
    const startedMs = performance.now();
    await new Promise((r) => setTimeout(r, SERVICE_SECONDS * 1000));
    const after = [await containerCpuNs(serviceId), await containerCpuNs(attackerId)];
    const wallNs = (performance.now() - startedMs) * 1e6;
    const cores = (i: number) => (before[i] !== undefined && after[i] !== undefined ? round((after[i]! - before[i]!) / wallNs) : null);
    const figures = { service_cpu_cores: cores(0), attacker_cpu_cores: cores(1) };
    progress(`sibling service at the default weight: ${figures.service_cpu_cores} cores, the hog ${figures.attacker_cpu_cores}`);
    return figures;
  } finally {
    await exec('docker', ['rm', '-f', name]).catch(() => undefined);
  }
}

async function echoOnce(sandbox: DockerSandbox): Promise<number> {
  const startedMs = performance.now();
  const outcome = await sandbox.runTool({ toolUseId: `echo-${randomBytes(6).toString('hex')}`, name: 'bash', input: { command: 'echo hi' } });
  if (outcome.content[0]?.text !== 'hi\n') throw new Error(`neighbour echo failed: ${JSON.stringify(outcome)}`);
  return performance.now() - startedMs;
}

/** Starts `load` in the attacker's sandbox; `stop` ends it and waits until its call is over. */
function startLoad(attacker: DockerSandbox, load: Load): { stop(): Promise<void> } {
  const controller = new AbortController();
  const call = (command: string) =>
    attacker.runTool({ toolUseId: `${load}-${randomBytes(6).toString('hex')}`, name: 'bash', input: { command, timeout_ms: 600_000 }, signal: controller.signal }).catch(() => undefined);
  const done =
    load === 'cpu_hog'
      ? call(HOG)
      : (async () => {
          while (!controller.signal.aborted) await call(BOMB);
        })();
  return {
    async stop() {
      controller.abort();
      await done;
    },
  };
}

/** CPU time the container has used, in ns, from its cgroup (v1 with cgroupfs or systemd, or v2); undefined when not readable here. */
async function containerCpuNs(containerId: string): Promise<number | undefined> {
  const v1 = [`/sys/fs/cgroup/cpuacct/docker/${containerId}/cpuacct.usage`, `/sys/fs/cgroup/cpuacct/system.slice/docker-${containerId}.scope/cpuacct.usage`];
  for (const path of v1) {
    const value = await readFile(path, 'utf8').catch(() => undefined);
    if (value !== undefined) return Number(value.trim());
  }
  const v2 = [`/sys/fs/cgroup/system.slice/docker-${containerId}.scope/cpu.stat`, `/sys/fs/cgroup/docker/${containerId}/cpu.stat`];
  for (const path of v2) {
    const stat = await readFile(path, 'utf8').catch(() => undefined);
    const usec = stat === undefined ? undefined : /^usage_usec (\d+)$/m.exec(stat)?.[1];
    if (usec !== undefined) return Number(usec) * 1000;
  }
  return undefined;
}
