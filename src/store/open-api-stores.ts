import { AgentStore } from './agent-store.ts';
import { DeploymentStore } from './deployment-store.ts';
import { DreamStore } from './dream-store.ts';
import { EnvironmentStore } from './environment-store.ts';
import { FileStore } from './file-store.ts';
import { MemoryStores } from './memory-store.ts';
import { migrateSchema } from './migrate-schema.ts';
import { SessionMemoryStore } from './session-memory-store.ts';
import { SkillStore } from './skill-store.ts';
import type { SqlDriver } from './sql-driver.ts';
import { VaultStore } from './vault-store.ts';
import { WebhookStore } from './webhook-store.ts';
import type { SecretBox } from '../secrets/secret-box.ts';

export type ApiStores = { agents: AgentStore; environments: EnvironmentStore; files: FileStore; vaults: VaultStore; deployments: DeploymentStore; webhooks: WebhookStore; memories: MemoryStores; sessionMemory: SessionMemoryStore; dreams: DreamStore; skills: SkillStore };

/**
 * The HTTP API's resource stores on `driver`, schema brought up to date. Share
 * the driver with the `SessionStore` (PGlite allows one opener per folder); the
 * caller closes it.
 *
 * @example
 * const driver = await openPgliteDriver({ dataDir });
 * const store = await SessionStore.open(driver);
 * const apiStores = await openApiStores(driver, { secretBox });
 *
 * Without `secretBox` the vault routes answer that vaults need a secret key.
 */
export async function openApiStores(driver: SqlDriver, { secretBox }: { secretBox?: SecretBox | undefined } = {}): Promise<ApiStores> {
  await migrateSchema(driver);
  return {
    agents: new AgentStore(driver),
    environments: new EnvironmentStore(driver),
    files: new FileStore(driver),
    vaults: new VaultStore(driver, { secretBox }),
    deployments: new DeploymentStore(driver),
    webhooks: new WebhookStore(driver, { secretBox }),
    memories: new MemoryStores(driver),
    sessionMemory: new SessionMemoryStore(driver),
    dreams: new DreamStore(driver),
    skills: new SkillStore(driver),
  };
}
