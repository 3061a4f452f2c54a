import { existsSync } from 'node:fs';
import { getContainerRuntimeClient } from 'testcontainers';
import type { DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';
import { LABEL_LONGHAUL, LABEL_SESSION } from '../../sandbox/sandbox-resources.ts';

/**
 * Removes the sandbox containers of this data folder's sessions (those with a host
 * folder under the driver's data dir), and only those: other Longhaul engines on the
 * same Docker host keep theirs. Workspaces stay (they are volumes), so a session
 * picks up where it was when `longhaul dev` starts again.
 */
export async function stopDevSandboxes(driver: DockerSandboxDriver): Promise<number> {
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL_LONGHAUL}=1`] } });
  const sessionIds = new Set(
    containers.map((c) => c.Labels[LABEL_SESSION]).filter((id): id is string => id !== undefined && existsSync(driver.sessionDir(id))),
  );
  await Promise.all([...sessionIds].map((id) => driver.destroy(id, { removeVolume: false })));
  await driver.close();
  return sessionIds.size;
}
