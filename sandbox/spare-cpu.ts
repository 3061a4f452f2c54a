import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

type CpuSample = { at: number; idle: number; total: number };

function sample(): CpuSample {
  let idle = 0;
  let total = 0;
  for (const { times } of cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { at: performance.now(), idle, total };
}

/** Tells whether the machine's cores were at least `idleAtLeast` idle lately. */
export type SpareCpu = () => Promise<boolean>;

/**
 * Whether the machine's cores, all together, were at least `idleAtLeast` idle since the
 * last question: work that may wait (a warm pool growing past its floor) asks before each
 * step, and so takes only CPU that sessions leave over. A question comes at least
 * `sampleMs` after the one before (it waits out the rest), and a last answer older than
 * a second is not trusted: it measures anew over `sampleMs`.
 */
export function spareCpuGauge({ idleAtLeast = 0.5, sampleMs = 250 }: { idleAtLeast?: number; sampleMs?: number } = {}): SpareCpu {
  let last = sample();
  return async () => {
    if (performance.now() - last.at > 1_000) last = sample();
    const wait = last.at + sampleMs - performance.now();
    if (wait > 0) await sleep(wait);
    const now = sample();
    const ticks = now.total - last.total;
    const idle = ticks > 0 ? (now.idle - last.idle) / ticks : 1;
    last = now;
    return idle >= idleAtLeast;
  };
}
