import { execFileSync } from 'node:child_process';

/** Id of the session's running sandbox container (fails when there is none). */
export async function findSessionContainerId(sessionId: string): Promise<string> {
  const out = execFileSync('docker', ['ps', '-q', '--filter', `label=longhaul.session=${sessionId}`]).toString().trim();
  if (!out) throw new Error(`no running sandbox container for ${sessionId}`);
  return out.split('\n')[0]!;
}
