import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** Which model the worker of a `longhaul dev` talks to. */
export const DevModel = z.object({
  /** `scripted`: the built-in demo script (no API key was set), not Claude. */
  kind: z.enum(['anthropic', 'scripted']),
  /** Where the worker's model calls go: the Anthropic API (or `ANTHROPIC_BASE_URL`), or the scripted server's URL. */
  base_url: z.string(),
});
export type DevModel = z.infer<typeof DevModel>;

/**
 * What a running `longhaul dev` writes to `<data-dir>/dev.json` (mode 0600: it holds
 * the API key) so `longhaul run` and scripts can find it.
 */
export const DevInfo = z.object({
  version: z.literal(1),
  pid: z.number().int(),
  started_at: z.string(),
  data_dir: z.string(),
  api_url: z.string(),
  api_key: z.string(),
  temporal_address: z.string(),
  temporal_ui_url: z.string(),
  /** False when `longhaul dev` reused a Temporal server that was already running. */
  temporal_started: z.boolean(),
  task_queue: z.string(),
  model: DevModel,
});
export type DevInfo = z.infer<typeof DevInfo>;

/**
 * Response header naming the model behind a `longhaul dev` (`anthropic` or
 * `scripted-demo`), so a client that was given only a URL can still say whether it
 * talks to Claude.
 */
export const MODEL_HEADER = 'longhaul-model';

export const DEV_INFO_FILE = 'dev.json';

export function devInfoPath(dataDir: string): string {
  return join(dataDir, DEV_INFO_FILE);
}

/** Writes `dev.json` atomically, readable by the owner only. */
export async function writeDevInfo(dataDir: string, info: DevInfo): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const path = devInfoPath(dataDir);
  const partial = `${path}.${process.pid}.partial`;
  await writeFile(partial, `${JSON.stringify(DevInfo.parse(info), null, 2)}\n`, { mode: 0o600 });
  // The mode given to writeFile is masked by the umask; make sure.
  await chmod(partial, 0o600);
  await rename(partial, path);
}

export type DevInfoLookup =
  | { state: 'running'; info: DevInfo }
  | { state: 'missing'; path: string }
  /** The file names a process that is gone (a `longhaul dev` that was killed). */
  | { state: 'stale'; path: string; info: DevInfo }
  | { state: 'invalid'; path: string; reason: string };

/** Reads `dev.json` and tells whether the `longhaul dev` it names is still alive. */
export async function readDevInfo(dataDir: string): Promise<DevInfoLookup> {
  const path = devInfoPath(dataDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing', path };
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { state: 'invalid', path, reason: (error as Error).message };
  }
  const parsed = DevInfo.safeParse(json);
  if (!parsed.success) return { state: 'invalid', path, reason: z.prettifyError(parsed.error) };
  return isAlive(parsed.data.pid) ? { state: 'running', info: parsed.data } : { state: 'stale', path, info: parsed.data };
}

/** Removes `dev.json` if it still belongs to process `pid`. */
export async function removeDevInfo(dataDir: string, pid: number = process.pid): Promise<void> {
  const lookup = await readDevInfo(dataDir).catch(() => undefined);
  if (lookup && (lookup.state === 'running' || lookup.state === 'stale') && lookup.info.pid !== pid) return;
  await rm(devInfoPath(dataDir), { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
