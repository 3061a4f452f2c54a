import { existsSync } from 'node:fs';
import { getContainerRuntimeClient } from 'testcontainers';
import type { DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';
import { isSessionId, LABEL_LONGHAUL, sessionOfContainer } from '../../sandbox/sandbox-resources.ts';

/**
 * Removes the sandbox containers of this data folder's sessions (those with a host
 * folder under the driver's data dir), and only those: other Longhaul engines on the
 * same Docker host keep theirs; then unmounts their disks. Workspaces stay (on the
 * disks), so a session picks up where it was when `longhaul dev` starts again. Starts
 * still under way finish first, and those waiting for a turn are refused: stopped in the
 * middle of a burst, a start would otherwise add its container after the list was made.
 * Closing the driver removes its warm pool.
 */
export async function stopDevSandboxes(driver: DockerSandboxDriver): Promise<number> {
  await driver.stopStarting();
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL_LONGHAUL}=1`] } });
  // A container named by someone else may carry anything after the prefix: only a session id counts.
  const sessionIds = new Set(containers.map(sessionOfContainer).filter((id): id is string => id !== undefined && isSessionId(id) && existsSync(driver.sessionDir(id))));
  await Promise.all([...sessionIds].map((id) => driver.destroy(id, { removeVolume: false })));
  await driver.unmountSessionDisks();
  await driver.close();
  return sessionIds.size;
}

