import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimplePlugin } from '@temporalio/plugin';
import type { BundleOptions, ReplayWorkerOptions, WorkerOptions } from '@temporalio/worker';
import { workflowInterceptorModules, workflowsPath as longhaulWorkflowsPath } from './bundle-workflows.ts';
import { createLonghaulActivities, type LonghaulActivityOptions } from './longhaul-activities.ts';
import { storeIdentityCheck } from './store-identity-check.ts';
import type { Telemetry } from '../telemetry/start-telemetry.ts';

export type LonghaulPluginOptions = LonghaulActivityOptions & {
  /**
   * Started tracing (`startTelemetry`), as `createLonghaulWorker` takes it: the worker gets
   * the activity span interceptors and the workflow span sink, its bundle the workflow
   * interceptors, and a `Client` given the plugin the workflow client interceptors.
   * Default: none (no tracing). Metrics need nothing here: they go to the global meter provider.
   */
  telemetry?: Telemetry | undefined;
};

/** Longhaul's workflows joined with the worker's own (`workflows/plugin-workflows.ts`). */
const pluginWorkflowsPath = fileURLToPath(new URL('../../workflows/plugin-workflows.ts', import.meta.url));
/** The module name `plugin-workflows.ts` imports the worker's own workflows by. */
const HOST_WORKFLOWS_MODULE = '__longhaul_host_workflows';

type WebpackConfig = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/**
 * Adds Longhaul to a Temporal Worker you already run: its workflows are bundled with
 * yours, its activities join yours (a name both use is refused, never overwritten), and
 * the worker's task queue is the one your workflows start sessions on (`runAgentSession`
 * from `longhaul/workflow`, or `Longhaul` with that `taskQueue`).
 *
 * Give the worker `workflowsPath` (the plugin joins Longhaul's workflows to it when it
 * bundles), or neither it nor a bundle (the worker then runs Longhaul's alone). A prebuilt
 * `workflowBundle` must be built with the plugin: `bundleWorkflowCode({ workflowsPath, plugins: [plugin] })`.
 * The heartbeat throttle intervals default to `heartbeatEveryMs` when the worker sets none.
 *
 * @example
 * const worker = await Worker.create({
 *   connection, taskQueue: 'orders', workflowsPath: require.resolve('./workflows'), activities,
 *   plugins: [new LonghaulPlugin({ store, sandboxes })],
 * });
 */
export class LonghaulPlugin extends SimplePlugin {
  readonly #heartbeatEveryMs: number;
  readonly #telemetry: Telemetry | undefined;

  constructor({ telemetry, ...options }: LonghaulPluginOptions) {
    const activities = createLonghaulActivities(options);
    const storeCheck = storeIdentityCheck({ storeId: options.store.storeId });
    super({
      name: 'longhaul',
      activities: (existing) => joinActivities(existing, activities),
      workerInterceptors: (existing) => ({
        ...existing,
        // Checked before any activity runs; it refuses only work that names another store (Longhaul's).
        activity: [...(existing?.activity ?? []), storeCheck, ...(telemetry?.activityInterceptors ?? [])],
      }),
      // Appended to the client's own by SimplePlugin; starts and signals then carry the caller's span context.
      ...(telemetry ? { clientInterceptors: { workflow: telemetry.workflowClientInterceptors } } : {}),
    });
    this.#heartbeatEveryMs = options.heartbeatEveryMs ?? 1000;
    this.#telemetry = telemetry;
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    return {
      ...configured,
      ...onlyLonghaulWhenNoWorkflows(configured),
      ...this.#withTelemetrySinks(configured),
      // Cancellation reaches an activity on its next heartbeat; keep that short so interrupts are prompt.
      maxHeartbeatThrottleInterval: configured.maxHeartbeatThrottleInterval ?? this.#heartbeatEveryMs,
      defaultHeartbeatThrottleInterval: configured.defaultHeartbeatThrottleInterval ?? this.#heartbeatEveryMs,
    };
  }

  override configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions {
    const configured = super.configureReplayWorker(options);
    return { ...configured, ...onlyLonghaulWhenNoWorkflows(configured), ...this.#withTelemetrySinks(configured) };
  }

  /** The worker's sinks and the one through which the workflow sandbox's spans leave (a bundle with the tracing interceptors calls it). */
  #withTelemetrySinks(options: Pick<WorkerOptions, 'sinks'>): Pick<WorkerOptions, 'sinks'> {
    return this.#telemetry ? { sinks: { ...options.sinks, ...this.#telemetry.sinks } } : {};
  }

  /** Called by the bundler (the worker's, or `bundleWorkflowCode`'s): joins Longhaul's workflows and interceptors to the worker's. */
  override configureBundler(options: BundleOptions): BundleOptions {
    const interceptors = [...new Set([...(options.workflowInterceptorModules ?? []), ...workflowInterceptorModules, ...(this.#telemetry?.workflowInterceptorModules ?? [])])];
    // Longhaul's workflows alone, or joined already (the plugin given twice, say to the connection too).
    if (options.workflowsPath === longhaulWorkflowsPath || options.workflowsPath === pluginWorkflowsPath) {
      return { ...options, workflowInterceptorModules: interceptors };
    }
    const hostWorkflowsPath = resolve(options.workflowsPath);
    const hook = options.webpackConfigHook;
    return {
      ...options,
      workflowsPath: pluginWorkflowsPath,
      workflowInterceptorModules: interceptors,
      webpackConfigHook: (config) => withHostWorkflows(hook ? hook(config) : config, hostWorkflowsPath),
    };
  }
}

/** A worker given neither workflows nor a bundle runs Longhaul's. */
function onlyLonghaulWhenNoWorkflows(options: Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'>): Pick<WorkerOptions, 'workflowsPath'> {
  return options.workflowsPath === undefined && options.workflowBundle === undefined ? { workflowsPath: longhaulWorkflowsPath } : {};
}

/** The worker's activities and Longhaul's; a name both use is an error, not an overwrite. */
function joinActivities(existing: object | undefined, longhaul: Record<string, unknown>): object {
  const theirs = (existing ?? {}) as Record<string, unknown>;
  // The same function under its own name is Longhaul's already (the plugin applied twice).
  const shared = Object.keys(longhaul).filter((name) => name in theirs && theirs[name] !== longhaul[name]);
  if (shared.length > 0) {
    throw new Error(`LonghaulPlugin: the worker already has activities named ${shared.join(', ')}, which Longhaul's workflows call; rename them, or run Longhaul on a task queue of its own`);
  }
  return { ...theirs, ...longhaul };
}

/**
 * The webpack configuration with `__longhaul_host_workflows` resolving to the worker's own
 * workflows, and a check that fails the bundle when a workflow name is both theirs and
 * Longhaul's (webpack only warns, and the name would belong to neither).
 */
function withHostWorkflows(config: WebpackConfig, hostWorkflowsPath: string): WebpackConfig {
  const alias = config.resolve?.alias;
  return {
    ...config,
    resolve: {
      ...config.resolve,
      alias: Array.isArray(alias)
        ? [...alias, { name: HOST_WORKFLOWS_MODULE, alias: hostWorkflowsPath, onlyModule: true }]
        : { ...alias, [`${HOST_WORKFLOWS_MODULE}$`]: hostWorkflowsPath },
    },
    plugins: [
      ...(config.plugins ?? []),
      {
        apply: (compiler) => {
          compiler.hooks.afterCompile.tap('longhaul-shared-workflow-names', (compilation) => {
            const conflicts = compilation.warnings.filter((warning) => /conflicting star exports/.test(warning.message));
            for (const conflict of conflicts) {
              compilation.errors.push(new compiler.webpack.WebpackError(`LonghaulPlugin: a workflow name is both the worker's and Longhaul's; rename the worker's. ${conflict.message}`));
            }
          });
        },
      },
    ],
  };
}
