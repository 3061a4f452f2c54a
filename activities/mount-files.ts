import { ApplicationFailure } from '@temporalio/activity';
import type { EnvironmentDefinition } from '../src/schemas/environment.ts';
import type { FileContentReader } from '../src/store/file-store.ts';
import { ContentSizeMismatchError, copyIntoWorkspace } from '../sandbox/copy-into-workspace.ts';
import type { SandboxDriver } from '../sandbox/types.ts';
import type { FileMount } from '../workflows/contract.ts';
import { ensureSessionSandbox, type SandboxSpecDeps } from './run-tool.ts';

/** Plain JSON, so it can cross the workflow boundary. */
export type MountFilesInput = {
  sessionId: string;
  environment: EnvironmentDefinition;
  /** Each uploaded file and where it goes (an absolute path under `/workspace` or `/mnt/session`). */
  files: FileMount[];
  /** The session's vaults, so a container started here gets the same egress secrets as one started for a tool. */
  vaultIds?: string[] | undefined;
};

export type MountFilesDeps = SandboxSpecDeps & {
  sandboxes: SandboxDriver;
  /** Where the bytes are: the shared store, so this runs on any worker. */
  files: FileContentReader;
};

/**
 * Places uploaded files in the session's sandbox: starts (or adopts) the
 * session's container, then streams each file's chunks from the store into its
 * volume. The volumes outlive the container, so a replaced or released container
 * still has the files. Idempotent: running it again rewrites the same bytes.
 * The session workflow runs it (activity `mountFiles`) before the model call
 * that should see the files.
 */
export async function mountFiles({ files, ...deps }: MountFilesDeps, { sessionId, environment, files: mounts, vaultIds }: MountFilesInput): Promise<void> {
  if (mounts.length === 0) return;
  const sandbox = await ensureSessionSandbox(deps, sessionId, environment, vaultIds);
  try {
    await copyIntoWorkspace({
      sandbox,
      files: mounts.map((mount) => ({ name: mount.fileId, content: files.readContent(mount.fileId), containerPath: mount.mountPath, sizeBytes: mount.sizeBytes })),
    });
  } catch (error) {
    // A file deleted (or cut short) after it was mounted cannot come back by retrying.
    if (error instanceof ContentSizeMismatchError) throw ApplicationFailure.nonRetryable(error.message, 'FileContentMissing');
    throw error;
  }
}
