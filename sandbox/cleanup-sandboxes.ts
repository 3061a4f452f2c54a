import { getContainerRuntimeClient } from 'testcontainers';
import { removeContainer, removeVolumeIfPresent } from './session-containers.ts';
import { LABEL_LONGHAUL } from './sandbox-resources.ts';

export type CleanupSandboxesOptions = {
  /** Only containers (and volumes) created at least this long ago. Default 0: all of them. */
  olderThanMs?: number;
  /** Also remove the `/workspace` volumes of the sessions whose containers are removed, and unused ones. Default false. */
  removeVolumes?: boolean;
};

/**
 * Removes every container labelled `longhaul=1` (and, on request, the workspace
 * volumes). Longhaul never relies on a reaper container: tests call this in their
 * teardown, operators from a cron job.
 *
 * @example
 * after(() => cleanupSandboxes({ removeVolumes: true }));
 */
export async function cleanupSandboxes({ olderThanMs = 0, removeVolumes = false }: CleanupSandboxesOptions = {}): Promise<{
  containers: number;
  volumes: number;
}> {
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const cutoffSeconds = (Date.now() - olderThanMs) / 1000;
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL_LONGHAUL}=1`] } });
  const old = containers.filter((c) => c.Created <= cutoffSeconds);
  await Promise.all(old.map((c) => removeContainer(docker.getContainer(c.Id))));
  let volumes = 0;
  if (removeVolumes) {
    const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABEL_LONGHAUL}=1`], dangling: ['true'] } });
    const oldVolumes = (Volumes ?? []).filter((v) => {
      const created = (v as { CreatedAt?: string }).CreatedAt;
      return created === undefined || Date.parse(created) / 1000 <= cutoffSeconds;
    });
    await Promise.all(oldVolumes.map((v) => removeVolumeIfPresent(docker, v.Name)));
    volumes = oldVolumes.length;
  }
  return { containers: old.length, volumes };
}
