/**
 * Names, labels and in-container paths of a session's sandbox resources. Everything
 * Longhaul creates in Docker carries `longhaul=1` and `longhaul.session=<id>`, so a
 * fresh worker can find it again and cleanup can find all of it; a container started
 * for the warm pool carries `longhaul.warm=<owner>` instead, and once claimed is the
 * session's by its name.
 */

export const LABEL_LONGHAUL = 'longhaul';
export const LABEL_SESSION = 'longhaul.session';
/**
 * On a container started ahead of any session for the warm pool: the id of the driver
 * that owns it. Docker labels never change, so a container a session has claimed keeps
 * it (and has no `longhaul.session`): such a container is the session's by its name.
 */
export const LABEL_WARM_OWNER = 'longhaul.warm';
export const LABEL_ROLE = 'longhaul.role';
/**
 * How a sandbox container is laid out. Layout 2: the executor runs as root and its
 * folder is closed to the sandbox user. A running container without it (layout 1: the
 * executor as the sandbox user, its folder writable by the agent) is replaced, never adopted.
 */
export const LABEL_LAYOUT = 'longhaul.layout';
export const SANDBOX_LAYOUT = '2';

/** The image's sandbox user: every tool runs as it (the executor alone is root). */
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;

/** Where things are inside the container. */
export const CONTAINER_PATHS = {
  workspace: '/workspace',
  /** Files mounted into the session (`/mnt/session/uploads/<file_id>` by default), on a volume of their own. */
  session: '/mnt/session',
  home: '/home/agent',
  /** The session's control folder: the executor's socket and journal, the egress proxy's socket. Root only. */
  run: '/run/longhaul',
  /** Files the sandbox trusts and may read but not write (the egress CA bundle); a read-only mount. */
  trust: '/etc/longhaul',
  socket: '/run/longhaul/exec.sock',
  state: '/run/longhaul/state',
  /** The executor's source folder, mounted read-only. */
  executor: '/opt/longhaul/executor',
  /** Each memory store's folder, as the agent sees it: `/mnt/memory/<slug>` (read-only for a read-only store). */
  memory: '/mnt/memory',
  /** The same folders, always writable, where only the executor (root) can enter: how it syncs read-only stores. */
  memorySync: '/run/longhaul-memory',
  /** The session's skills, each in a folder of its own: a read-only mount that only the worker writes, from the host. */
  skills: '/mnt/skills',
} as const;

/** The folder, inside the session's host folder, mounted read-only at `CONTAINER_PATHS.trust`. */
export function sessionTrustDir(sessionDir: string): string {
  return `${sessionDir}/trust`;
}

/** File name of the socket inside the session's host folder. */
export const SOCKET_FILE = 'exec.sock';

// Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; the id also becomes a folder name.
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Whether `id` can name a session's sandbox (its container, folder and disk). */
export function isSessionId(id: string): boolean {
  return SESSION_ID.test(id) && !id.includes('..');
}

export function assertSessionId(sessionId: string): void {
  if (!isSessionId(sessionId)) {
    throw new TypeError(
      `sessionId ${JSON.stringify(sessionId)} cannot name a sandbox: use letters, digits, '_', '.' or '-' (at most 128)`,
    );
  }
}

/** The container name's prefix: what is after it is the session id. */
const SESSION_CONTAINER_PREFIX = 'longhaul-sbx-';

export function containerName(sessionId: string): string {
  return `${SESSION_CONTAINER_PREFIX}${sessionId}`;
}

/**
 * The session a sandbox container belongs to: by its name (`longhaul-sbx-<id>`, which a
 * container claimed from the warm pool takes), else by its `longhaul.session` label.
 */
export function sessionOfContainer(container: { Names?: readonly string[]; Labels?: Record<string, string> }): string | undefined {
  for (const name of container.Names ?? []) {
    const bare = name.replace(/^\//, '');
    if (bare.startsWith(SESSION_CONTAINER_PREFIX)) return bare.slice(SESSION_CONTAINER_PREFIX.length);
  }
  return container.Labels?.[LABEL_SESSION];
}

/** Name of a warm-pool container until a session claims it (and renames it to the session's). */
export function warmContainerName(slotId: string): string {
  return `longhaul-warm-${slotId}`;
}

/** Labels of a warm-pool container: Longhaul's, not a session's. */
export function warmLabels(owner: string): Record<string, string> {
  return { [LABEL_LONGHAUL]: '1', [LABEL_WARM_OWNER]: owner, [LABEL_ROLE]: 'sandbox' };
}

export function volumeName(sessionId: string): string {
  return `longhaul-ws-${sessionId}`;
}

/** The volume behind `/mnt/session`. */
export function sessionFilesVolumeName(sessionId: string): string {
  return `longhaul-mnt-${sessionId}`;
}

export function sessionLabels(sessionId: string, role: 'sandbox' | 'workspace' | 'session-files'): Record<string, string> {
  return { [LABEL_LONGHAUL]: '1', [LABEL_SESSION]: sessionId, [LABEL_ROLE]: role };
}
