/**
 * The workflow bundle of a long-running process (`longhaul dev`), built by a short-lived
 * child process into a cache folder and reused while nothing that went into it changed.
 *
 * Why a child: webpack, swc and what they allocate stay in the process that bundles.
 * Bundling in `longhaul dev` itself kept about 100 MiB resident for its whole life
 * (measured: 690 → 590 MiB idle); the child gives all of it back when it exits.
 * Why a cache: a restart then skips the 1.5 s of bundling.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { WorkflowBundle } from '@temporalio/worker';
import { z } from 'zod';
import { bundleLonghaulWorkflows, workflowsPath } from './bundle-workflows.ts';

/** Bump when the manifest's shape or meaning changes: older caches are then rebuilt. */
const MANIFEST_FORMAT = 3; // 3: the code is ASCII only (bundleLonghaulWorkflows escapes the rest)
const MANIFEST_FILE = 'workflow-bundle.json';
const CODE_FILE = 'workflow-bundle.js';

const BundleManifest = z.object({
  format: z.literal(MANIFEST_FORMAT),
  /** Version of `@temporalio/worker`, whose bundler writes the entry point and the module-cache patch. */
  bundler: z.string(),
  /** SHA-256 of the code file, so a torn or edited file is never loaded. */
  codeSha256: z.string(),
  /** The workflows it bundles: a cache folder shared by two checkouts never serves one the other's code. */
  workflowsPath: z.string(),
  /** Every file webpack read (workflow sources, their imports, the SDK's workflow runtime) → SHA-256 of its content. */
  inputs: z.record(z.string(), z.string()),
});
type BundleManifest = z.infer<typeof BundleManifest>;

export type CachedWorkflowBundleOptions = {
  /** Folder for the bundle and its manifest; created when missing. */
  cacheDir: string;
  /** Stops a bundling child still running (e.g. when start-up is abandoned). */
  signal?: AbortSignal | undefined;
};

/**
 * Longhaul's workflow bundle: the cached one in `cacheDir` when every file that went into
 * it is unchanged, else a fresh one that a child process bundles and caches there.
 *
 * @example
 * const workflowBundle = await cachedWorkflowBundle({ cacheDir: join(dataDir, 'cache') });
 * const worker = await createLonghaulWorker({ connection, store, sandboxes, workflowBundle });
 */
export async function cachedWorkflowBundle({ cacheDir, signal }: CachedWorkflowBundleOptions): Promise<WorkflowBundle> {
  const cached = await readCachedBundle(cacheDir);
  if (cached) return cached;
  await bundleInChildProcess({ cacheDir, signal });
  // No match after building: another process's build landed between this one's code and
  // manifest, or a source changed meanwhile. Bundling here is slower and heavier, never wrong.
  return (await readCachedBundle(cacheDir)) ?? bundleLonghaulWorkflows();
}

async function readCachedBundle(cacheDir: string): Promise<WorkflowBundle | undefined> {
  let manifest: BundleManifest;
  let code: string;
  try {
    manifest = BundleManifest.parse(JSON.parse(await readFile(join(cacheDir, MANIFEST_FILE), 'utf8')));
    code = await readFile(join(cacheDir, CODE_FILE), 'utf8');
  } catch {
    // Missing, from another format, or unreadable: build it again.
    return undefined;
  }
  if (manifest.bundler !== bundlerVersion() || manifest.workflowsPath !== workflowsPath || sha256(code) !== manifest.codeSha256) return undefined;
  const inputs = Object.entries(manifest.inputs);
  const unchanged = await Promise.all(inputs.map(async ([file, hash]) => (await fileSha256(file)) === hash));
  return unchanged.every(Boolean) ? { code } : undefined;
}

async function bundleInChildProcess({ cacheDir, signal }: CachedWorkflowBundleOptions): Promise<void> {
  try {
    // Only this file's own arguments: the parent's (an --inspect port, say) are not the child's business.
    await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), cacheDir], { signal, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    const detail = typeof stderr === 'string' && stderr.trim() ? `:\n${stderr.trim().slice(-4000)}` : '';
    throw new Error(`bundling the workflows failed${detail}`, { cause: error });
  }
}

/** The child's work: bundle, noting every file webpack read, then write code and manifest. */
async function writeWorkflowBundle(cacheDir: string): Promise<void> {
  const read = new Set<string>();
  const { code } = await bundleLonghaulWorkflows({
    webpackConfigHook: (config) => ({
      ...config,
      plugins: [
        ...(config.plugins ?? []),
        {
          apply: (compiler) => {
            compiler.hooks.done.tap('longhaul-bundle-inputs', (stats) => {
              for (const file of stats.compilation.fileDependencies) read.add(file);
            });
          },
        },
      ],
    }),
  });
  const inputs: Record<string, string> = {};
  for (const file of [...read].sort()) {
    // The bundler's generated entry point lives in memory only; it is a function of the
    // bundler version (in the manifest) and of the workflow files (hashed here).
    const hash = await fileSha256(file);
    if (hash !== undefined) inputs[file] = hash;
  }
  const manifest: BundleManifest = { format: MANIFEST_FORMAT, bundler: bundlerVersion(), codeSha256: sha256(code), workflowsPath, inputs };
  await mkdir(cacheDir, { recursive: true });
  // Code first, manifest last, each renamed into place: a reader sees either the old pair, or
  // a manifest whose code hash does not match (rebuilt), never a half-written file.
  await writeAtomically(join(cacheDir, CODE_FILE), code);
  await writeAtomically(join(cacheDir, MANIFEST_FILE), `${JSON.stringify(manifest)}\n`);
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, file);
}

async function fileSha256(file: string): Promise<string | undefined> {
  try {
    return sha256(await readFile(file));
  } catch {
    return undefined;
  }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function bundlerVersion(): string {
  const { version } = createRequire(import.meta.url)('@temporalio/worker/package.json') as { version: string };
  return version;
}

if (import.meta.main) {
  const cacheDir = process.argv[2];
  if (!cacheDir) throw new Error('usage: workflow-bundle-cache.ts <cache-dir>');
  await writeWorkflowBundle(cacheDir);
}
