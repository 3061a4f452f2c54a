export * from './types.ts';
export { cleanupSandboxes, type CleanupSandboxesOptions } from './cleanup-sandboxes.ts';
export { DockerSandbox } from './docker-sandbox.ts';
export {
  DEFAULT_EXECUTOR_DIR,
  DEFAULT_SANDBOX_IMAGE,
  DockerSandboxDriver,
  type DockerSandboxDriverOptions,
} from './docker-sandbox-driver.ts';
export {
  ExecutorClient,
  ExecutorConnectionError,
  ExecutorRequestError,
  type ExecutorPing,
  type ExecutorRunOptions,
} from './executor-client.ts';
export { containerName, volumeName, LABEL_LONGHAUL, LABEL_SESSION } from './sandbox-resources.ts';
export { packageRegistriesFromEnv, type PackageRegistries } from './packages/package-registries.ts';
export type { ResolveHost } from './egress/egress-proxy.ts';
