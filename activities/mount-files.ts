import type { EnvironmentDefinition } from '../src/schemas/environment.ts';
import { storedFilePath } from '../src/store/file-store.ts';
import { copyIntoWorkspace } from '../sandbox/copy-into-workspace.ts';
import type { SandboxDriver } from '../sandbox/types.ts';
import { sandboxSpec } from './run-tool.ts';

/** Plain JSON, so it can cross the workflow boundary. */
export type MountFilesInput = {
  sessionId: string;
  environment: EnvironmentDefinition;
  /** Each uploaded file and where it goes (an absolute path under `/workspace`). */
  files: { fileId: string; mountPath: string; sizeBytes: number }[];
};

/**
 * Places uploaded files in the session's sandbox: starts (or adopts) the
 * session's container, then streams each file into its `/workspace` volume.
 * The volume outlives the container, so a replaced or released container still
 * has the files. Idempotent: running it again rewrites the same bytes.
 *
 * The HTTP API calls it before it starts the session's workflow, so the files
 * are in place before the first model call; it is also a worker activity
 * (`mountFiles`) for workflows that mount later.
 */
export async function mountFiles({ sandboxes, filesDir }: { sandboxes: SandboxDriver; filesDir: string }, { sessionId, environment, files }: MountFilesInput): Promise<void> {
  if (files.length === 0) return;
  const sandbox = await sandboxes.ensure(sandboxSpec(sessionId, environment));
  await copyIntoWorkspace({
    sandbox,
    files: files.map((file) => ({ hostPath: storedFilePath(filesDir, file.fileId), containerPath: file.mountPath, sizeBytes: file.sizeBytes })),
  });
}
