/**
 * What `longhaul dev` checks before it starts anything, so a missing piece stops it
 * with one line saying what is missing and how to get it, not a stack trace later.
 */
import { getContainerRuntimeClient, ImageName } from 'testcontainers';
import { CliError } from './cli-error.ts';

const SETUP_HINT = '`./longhaul dev` from a checkout runs scripts/setup.sh, which installs it';

/** Docker must answer, and the sandbox image must be on its host (it is never pulled). */
export async function checkDocker({ image }: { image: string }): Promise<void> {
  let client: Awaited<ReturnType<typeof getContainerRuntimeClient>>;
  try {
    client = await getContainerRuntimeClient();
  } catch (error) {
    throw new CliError(`Docker is not available (${firstLine(error)}); install and start the Docker engine — ${SETUP_HINT}`, { cause: error });
  }
  let present: boolean;
  try {
    present = await client.image.exists(ImageName.fromString(image));
  } catch (error) {
    throw new CliError(`could not ask Docker about the sandbox image ${image} (${firstLine(error)})`, { cause: error });
  }
  if (!present) {
    throw new CliError(`the sandbox image ${image} is not on the Docker host; build it with \`bash scripts/setup.sh\` (${SETUP_HINT.replace(', which installs it', '')})`);
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
