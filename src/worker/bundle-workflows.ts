import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundle } from '@temporalio/worker';
import type { Telemetry } from '../telemetry/start-telemetry.ts';

/** The module that exports Longhaul's workflows. */
export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
/** Longhaul's workflow interceptors: every bundle with its workflows needs them. */
export const workflowInterceptorModules = [fileURLToPath(new URL('../../workflows/store-identity-interceptors.ts', import.meta.url))];

export type BundleLonghaulWorkflowsOptions = {
  /** Passed to the bundler: sees (and may change) the webpack configuration. Default: none. */
  webpackConfigHook?: BundleOptions['webpackConfigHook'];
  /** Started tracing: its workflow interceptors join the bundle, so workflows make spans. Default: none (no tracing code in the bundle). */
  telemetry?: Pick<Telemetry, 'workflowInterceptorModules'> | undefined;
};

/**
 * Bundles Longhaul's workflows once; hand the result to several workers (or
 * worker restarts) to skip re-bundling. The bundler (webpack, swc) stays loaded in
 * the process that calls this; `cachedWorkflowBundle` runs it in a child process instead.
 *
 * @example
 * const workflowBundle = await bundleLonghaulWorkflows();
 * const worker = await createLonghaulWorker({ connection, store, sandboxes, workflowBundle });
 */
export async function bundleLonghaulWorkflows({ webpackConfigHook, telemetry }: BundleLonghaulWorkflowsOptions = {}): Promise<WorkflowBundle> {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: [...workflowInterceptorModules, ...(telemetry?.workflowInterceptorModules ?? [])],
    logger: quietBundlerLogger,
    ...(webpackConfigHook ? { webpackConfigHook } : {}),
  });
  return { code: asciiOnly(code) };
}

/**
 * The code with every character past ASCII written as a `\uXXXX` escape. V8 keeps a string
 * with even one such character at two bytes per character, and the bundle (2 MB, its source
 * map inline) is held by the worker and each workflow thread: a few em dashes in the
 * Temporal SDK's comments doubled every copy. An escape means the same character in a
 * string, template, regular expression or identifier, and is only text in a comment; only
 * source text read back (a regular expression's `source`, a function's `toString()`) shows it.
 */
export function asciiOnly(code: string): string {
  return code.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const quietBundlerLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string, meta?: Record<string, unknown>) => process.emitWarning(`workflow bundler: ${message} ${meta ? JSON.stringify(meta) : ''}`),
  error: (message: string, meta?: Record<string, unknown>) => process.emitWarning(`workflow bundler: ${message} ${meta ? JSON.stringify(meta) : ''}`),
  log: () => {},
};
