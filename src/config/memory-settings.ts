/**
 * Process-wide memory settings of Longhaul's long-running commands, which only take effect
 * when a process starts: V8 sizes its young generation and glibc its malloc arenas before
 * any of our code runs. So `bin/longhaul.js` re-executes itself once with them (same pid,
 * same stdio) for `dev`, `worker` and `serve`.
 *
 * Measured on `longhaul dev` (2 cores, 24 GB RAM): without them V8 lets the main thread's
 * young generation grow to 128 MiB under load and keeps it for tens of seconds, and the
 * many threads (Temporal core, libuv, V8) spread malloc over arenas that are rarely given
 * back. With them RSS was 40–55 MiB lower just after start-up and 100–200 MiB lower just
 * after 50 sessions ran, with CPU per step and step latency unchanged within noise.
 * A worker running one 10,000-step session (`bench/long-session.ts`), RSS after a full GC:
 * 200 MiB at step 1,000 and 6.3% more at step 10,000 with the malloc settings, against
 * 260 MiB and 9.9–11.9% more without; the JavaScript heap stayed flat either way.
 */

/** The commands that run for days, and whether each also gets `NODE_FLAGS`. */
const LONG_RUNNING: Readonly<Record<string, { nodeFlags: boolean }>> = {
  dev: { nodeFlags: true },
  // A production worker or API server sizes its young generation as V8 sees fit for its
  // machine; the malloc settings are what keep its memory from creeping up.
  worker: { nodeFlags: false },
  serve: { nodeFlags: false },
};

/**
 * V8 flags of `longhaul dev`, unless the user's own `--max-semi-space-size` (on the command
 * line or in `NODE_OPTIONS`) says otherwise. 16 MiB semi-spaces (a 32 MiB young generation)
 * was Node's 64-bit default for years; on big machines V8 now picks 64 MiB.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/**
 * glibc malloc settings, each unless the user set it:
 * - `MALLOC_ARENA_MAX`: glibc's default is 8 arenas per core, each up to 64 MiB, rarely given back.
 * - `MALLOC_MMAP_THRESHOLD_`: blocks of 32 KiB and more get their own mapping, returned the
 *   moment they are freed. By default glibc raises the threshold up to 32 MiB as big blocks
 *   come and go, and start-up's (code compilation, bundles, buffers) then stay in the heap
 *   between live ones. Measured idle after start-up: 289–305 MiB at 128 KiB against 325–343
 *   by default, and 266–273 at 32 KiB (no lower threshold did better).
 * - `MALLOC_TRIM_THRESHOLD_`: a free top of the heap goes back past 128 KiB.
 */
export const MALLOC_SETTINGS: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '32768',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

export type Relaunch = { args: string[]; env: NodeJS.ProcessEnv };

/**
 * The command that restarts this process with the settings of its command (`argv[2]`), or
 * `undefined` when it has them already, when the user chose their own (a V8 young-generation
 * size for `dev`, every malloc setting for the others), or for a command that does not run long.
 *
 * @example
 * memoryRelaunch({ execPath: '/usr/bin/node', execArgv: [], argv: ['/usr/bin/node', 'bin/longhaul.js', 'dev'], env: {} });
 * // → { args: ['/usr/bin/node', '--max-semi-space-size=16', 'bin/longhaul.js', 'dev'], env: { MALLOC_ARENA_MAX: '2', … } }
 */
export function memoryRelaunch({ execPath, execArgv, argv, env }: { execPath: string; execArgv: readonly string[]; argv: readonly string[]; env: NodeJS.ProcessEnv }): Relaunch | undefined {
  const settings = LONG_RUNNING[argv[2] ?? ''];
  if (settings === undefined) return undefined;
  const relaunchEnv = { ...MALLOC_SETTINGS, ...env };
  if (settings.nodeFlags) {
    const nodeOptions = (env['NODE_OPTIONS'] ?? '').split(/\s+/);
    if ([...execArgv, ...nodeOptions].some((flag) => /^--max[-_]semi[-_]space[-_]size\b/.test(flag))) return undefined;
    return { args: [execPath, ...NODE_FLAGS, ...execArgv, ...argv.slice(1)], env: relaunchEnv };
  }
  if (Object.keys(MALLOC_SETTINGS).every((name) => env[name] !== undefined)) return undefined;
  return { args: [execPath, ...execArgv, ...argv.slice(1)], env: relaunchEnv };
}

/**
 * Replaces this process with one that has the settings (`process.execve`: the pid, stdio
 * and arguments stay; nothing else has been opened yet). Returns when there is nothing to
 * do, or when this Node or platform cannot re-execute (then it runs as it is).
 */
export function relaunchWithMemorySettings(): void {
  // Node ≥ 22.15 on POSIX systems; elsewhere the command just runs with Node's defaults.
  if (typeof process.execve !== 'function') return;
  const relaunch = memoryRelaunch({ execPath: process.execPath, execArgv: process.execArgv, argv: process.argv, env: process.env });
  if (relaunch) process.execve(process.execPath, relaunch.args, relaunch.env);
}
