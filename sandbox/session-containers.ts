import type Dockerode from 'dockerode';
import { getContainerRuntimeClient } from 'testcontainers';
import { containerName, LABEL_SESSION } from './sandbox-resources.ts';

export async function dockerClient(): Promise<Dockerode> {
  return (await getContainerRuntimeClient()).container.dockerode;
}

/**
 * Every container of the session, whatever its state: those labelled with it, and the
 * one with its name (a container claimed from the warm pool keeps the pool's labels).
 */
export async function findSessionContainers(docker: Dockerode, sessionId: string): Promise<Dockerode.ContainerInfo[]> {
  // Docker's name filter is a regular expression; session ids may hold dots.
  const exactName = `^/?${containerName(sessionId).replaceAll('.', '\\.')}$`;
  const [labelled, named] = await Promise.all([
    docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${sessionId}`] } }),
    docker.listContainers({ all: true, filters: { name: [exactName] } }),
  ]);
  return [...labelled, ...named.filter((c) => !labelled.some((l) => l.Id === c.Id))];
}

export async function removeContainer(container: Dockerode.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: false });
  } catch (error) {
    // Already gone, or already being removed by someone else.
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw error;
  }
}

export async function volumeExists(docker: Dockerode, name: string): Promise<boolean> {
  try {
    await docker.getVolume(name).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

export async function removeVolumeIfPresent(docker: Dockerode, name: string): Promise<void> {
  try {
    await docker.getVolume(name).remove();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
}

export function isNameConflict(error: unknown): boolean {
  const status = (error as { statusCode?: number } | undefined)?.statusCode;
  return status === 409 || (error instanceof Error && /Conflict\. The container name/.test(error.message));
}
