/**
 * Longhaul's public library: start and drive agent sessions on Temporal
 * (`Longhaul`), run them (`createLonghaulWorker`, or `LonghaulPlugin` on a worker of your
 * own), and the parts they are built from. Workflow code imports `longhaul/workflow`.
 */
export { Longhaul, type CreateSessionOptions, type SessionView, type ListEventsOptions } from './client/longhaul.ts';
export { createLonghaulWorker, bundleLonghaulWorkflows, type LonghaulWorkerOptions } from './worker/create-worker.ts';
export { LonghaulPlugin, type LonghaulPluginOptions } from './worker/longhaul-plugin.ts';
export { createLonghaulActivities, type LonghaulActivityOptions } from './worker/longhaul-activities.ts';
export { startTelemetry, startTelemetryFromEnv, type Telemetry } from './telemetry/start-telemetry.ts';
export { startMetrics, startMetricsFromEnv, type Metrics } from './telemetry/start-metrics.ts';
export { telemetryFromEnv, type TelemetrySettings } from './telemetry/telemetry-settings.ts';
export { DEFAULT_TASK_QUEUE } from '../workflows/contract.ts';
export { createSessionActivities, type SessionActivities, type SessionActivityDeps } from '../activities/session-activities.ts';
export { SessionStore, type StoredEvent, type NewEvent } from './store/session-store.ts';
export { openPgliteDriver } from './store/pglite-driver.ts';
export { openPostgresDriver } from './store/postgres-driver.ts';
export type { SqlDriver } from './store/sql-driver.ts';
export { DockerSandboxDriver, type DockerSandboxDriverOptions } from '../sandbox/docker-sandbox-driver.ts';
export type { Sandbox, SandboxDriver, SandboxSpec, ToolOutcome } from '../sandbox/types.ts';
export { startDevServer, type DevServer, type DevServerOptions } from './temporal/dev-server.ts';
export { AgentDefinition, type AgentDefinitionInput } from './schemas/agent.ts';
export { EnvironmentDefinition, type EnvironmentDefinitionInput } from './schemas/environment.ts';
export { UserEventParams, type SessionEvent } from './schemas/events.ts';
export type { SessionResult, SessionStatus, SessionTuning, SessionWorkflowInput } from '../workflows/contract.ts';
export { NotFoundError, InvalidRequestError, LonghaulError } from './errors.ts';
export { SecretBox, SecretKeyError, SecretIntegrityError, type SecretBoxOptions } from './secrets/secret-box.ts';
export { secretBoxFromEnv, SECRET_KEY_ENV } from './config/secret-key.ts';
export { VaultStore, VaultsUnavailableError, type SealedCredential } from './store/vault-store.ts';
export { CredentialResolver, CredentialRefreshError, type McpAccess, type EnvironmentSecret, type CredentialResolverDeps } from './vaults/credential-resolver.ts';
