import { execFileSync } from 'node:child_process';
import type { ProductionTopology, Slot } from './production-topology.ts';

export type ChaosAction = 'kill worker' | 'kill serve' | 'restart temporal' | 'restart postgres' | 'kill sandbox';

/** The order faults come in: every kind in the first five, then workers and sandboxes (the common failures) most. */
const ROTATION: readonly ChaosAction[] = ['kill worker', 'kill sandbox', 'restart postgres', 'kill serve', 'restart temporal', 'kill worker', 'kill sandbox', 'kill serve', 'kill worker', 'kill sandbox'];

export type ChaosLogEntry = { action: ChaosAction; target: string; atMs: number; tookMs: number };

/** A small seeded generator (mulberry32): a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Breaks the topology, one fault every `everyMs` (on a schedule from its start), until `stop()`: kill -9 of a worker or
 * an API server (started again right after, as a supervisor would), a kill -9 and
 * restart of the Temporal server, an immediate shutdown and restart of PostgreSQL, a
 * `docker kill` of a session's sandbox. Returns the log of what it did.
 */
export function startChaosMonkey({
  topology,
  sessionIds,
  everyMs,
  random,
}: {
  topology: ProductionTopology;
  sessionIds: () => readonly string[];
  everyMs: number;
  random: () => number;
}): { stop(): Promise<ChaosLogEntry[]> } {
  const log: ChaosLogEntry[] = [];
  const started = Date.now();
  let stopping = false;
  let wake: (() => void) | undefined;
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(random() * items.length)];

  const killAndRestart = async (slots: Slot[]) => {
    const slot = pick(slots)!;
    await slot.kill();
    await slot.restart();
    return slot.name;
  };
  const killSandbox = () => {
    const ours = new Set(sessionIds());
    const running = execFileSync('docker', ['ps', '--filter', 'label=longhaul.session', '--format', '{{.ID}} {{.Label "longhaul.session"}}'])
      .toString()
      .trim()
      .split('\n')
      .map((line) => line.split(' ') as [string, string])
      .filter(([, session]) => ours.has(session));
    const target = pick(running);
    if (!target) return 'none running';
    execFileSync('docker', ['kill', target[0]], { stdio: 'ignore' });
    return target[1];
  };
  const act = async (action: ChaosAction): Promise<string> => {
    switch (action) {
      case 'kill worker':
        return killAndRestart(topology.workers);
      case 'kill serve':
        return killAndRestart(topology.serves);
      case 'restart temporal':
        await topology.temporal.crashAndRestart();
        return 'temporal';
      case 'restart postgres':
        await topology.postgres.restart();
        return 'postgres';
      case 'kill sandbox':
        return killSandbox();
    }
  };

  const running = (async () => {
    // On a schedule, one fault every `everyMs` from the start: a fault that takes long (a
    // restart on a busy machine) brings the next ones closer rather than pushing every later
    // one out, so a short run still sees each kind. At least a second apart all the same.
    const minimumGapMs = Math.min(everyMs, 1000);
    for (let i = 0; !stopping; i++) {
      const dueInMs = started + (i + 1) * everyMs - Date.now();
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(minimumGapMs, dueInMs));
      });
      if (stopping) break;
      const action = ROTATION[i % ROTATION.length]!;
      const at = Date.now();
      const target = await act(action);
      log.push({ action, target, atMs: at - started, tookMs: Date.now() - at });
    }
  })();
  return {
    async stop() {
      stopping = true;
      wake?.();
      await running;
      return log;
    },
  };
}
