/**
 * The contract between activities and whatever runs tools. Activities only see
 * these types; the Docker driver is one implementation.
 */

/** A content block a tool returns; the model sees it inside a `tool_result`. */
export type ToolResultBlock = { type: 'text'; text: string };

/** What a built-in tool produced. A failing tool is a result with `is_error`, not a throw. */
export type ToolOutcome = {
  content: ToolResultBlock[];
  is_error: boolean;
  /** Set when the call left the session's disk full: its size and what is free, in bytes. */
  disk_full?: DiskFull | undefined;
  /** A bash command's exit status, when it ran to its end (not for a timeout or an interrupt, nor other tools). */
  exit_code?: number | undefined;
};

export type DiskFull = { size_bytes: number; free_bytes: number };

/** Networking policy of an environment, as the Managed Agents API spells it. */
export type SandboxNetworking =
  | { type: 'unrestricted' }
  | { type: 'limited'; allowed_hosts?: string[] | undefined; allow_package_managers?: boolean | undefined; allow_mcp_servers?: boolean | undefined };

/**
 * A secret substituted into the sandbox's outbound requests by the egress proxy; the
 * sandbox only ever sees a random placeholder in the environment variable `name`.
 * The shape of a resolved vault `environment_variable` credential.
 */
export type SandboxSecret = {
  /** Environment variable holding the placeholder inside the sandbox. */
  name: string;
  value: string;
  /** Destination hosts the value is substituted for (`allowed_hosts` syntax: `api.example.com`, `*.example.com`), or every host. */
  hosts: readonly string[] | 'any';
  /** Substitute in request header values. */
  header: boolean;
  /** Substitute in request bodies. */
  body: boolean;
};

/**
 * Outbound traffic settings beyond `networking`. Which hosts are reachable comes
 * from `networking` alone: `limited` allows its `allowed_hosts`, `unrestricted` any
 * public host (a sandbox with secrets then also goes through the egress proxy).
 */
export type SandboxEgress = {
  secrets?: readonly SandboxSecret[] | undefined;
};

/**
 * Packages an environment installs, per package manager, in each manager's own
 * syntax (`requests==2.32.3`, `left-pad@1.3.0`, `ripgrep@14.1.0` for cargo, …).
 */
export type SandboxPackages = {
  apt?: readonly string[] | undefined;
  pip?: readonly string[] | undefined;
  npm?: readonly string[] | undefined;
  cargo?: readonly string[] | undefined;
  gem?: readonly string[] | undefined;
  go?: readonly string[] | undefined;
};

export type SandboxSpec = {
  /** Session the sandbox belongs to; containers and volumes are labelled with it. */
  sessionId: string;
  /** Image to start; defaults to `longhaul-sandbox:latest`. */
  image?: string | undefined;
  networking: SandboxNetworking;
  /** Memory limit in MiB. Default 2048. */
  memoryMb?: number | undefined;
  /** CPU limit in cores. Default 1. */
  cpus?: number | undefined;
  /** Max processes. Default 512. */
  pidsLimit?: number | undefined;
  /** Disk quota of `/workspace` and `/mnt/session` together, in MiB, fixed when the session's disk is made. Default 10 240. */
  diskMb?: number | undefined;
  /** Secrets for the egress proxy to substitute. */
  egress?: SandboxEgress | undefined;
  /** Installed into an image derived from `image`, built once per package set and cached. */
  packages?: SandboxPackages | undefined;
  /**
   * Memory stores mounted at `/mnt/memory/<slug>/`, fixed when the container is made. Their
   * files live on the session's disk (under its quota); a `readOnly` one is a read-only
   * mount, so the agent cannot change it whatever it runs.
   */
  memory?: readonly MemoryMount[] | undefined;
  /**
   * The session has skills (`Sandbox.installSkills`): its container must have `/mnt/skills`.
   * A running one without it (started by a release before skills) is replaced, not adopted.
   */
  skills?: boolean | undefined;
};

/** A skill version to place at `/mnt/skills/<folder>/`, which the sandbox can read but never change. */
export type SkillInstall = {
  /** The folder's name: lowercase letters, digits and `-`. */
  folder: string;
  /**
   * Its files, asked for only when the folder is not in place yet; undefined when they
   * cannot be had (the version was deleted): the skill is then left out of this sandbox.
   */
  files: () => Promise<readonly SkillInstallFile[] | undefined>;
};

/** A file of a skill: its path below the skill's folder, its size, and its bytes (read once, when it is copied). */
export type SkillInstallFile = { path: string; sizeBytes: number; content: () => AsyncIterable<Uint8Array> };

/** A memory store's folder in the sandbox: `/mnt/memory/<slug>/`. */
export type MemoryMount = {
  /** Lowercase letters, digits and `-` (1–64 characters): the folder's name. */
  slug: string;
  readOnly: boolean;
};

/** A memory file: its store's slug and its memory path (`/notes/today.md`, relative to the store's folder). */
export type MemoryFileRef = { store: string; path: string };

/**
 * What `scanMemory` compares against: per store slug, each memory path and the sha256
 * (lowercase hex) of the content last synced there.
 */
export type MemoryManifest = Record<string, Record<string, string>>;

/** Why a file under a memory mount cannot become a memory. */
export type MemoryRejection = 'too_large' | 'not_utf8' | 'bad_path' | 'not_regular';

/** The memory files that differ from a manifest. */
export type MemoryScan = {
  /** New or changed regular files, with their UTF-8 content. */
  changed: (MemoryFileRef & { sha256: string; content: string })[];
  /** Paths in the manifest that are no longer regular files. */
  deleted: MemoryFileRef[];
  /** Files that differ from the manifest but cannot be memories, and why. */
  rejected: (MemoryFileRef & { reason: MemoryRejection })[];
  /** More changes wait: the reply was cut at its byte limit. Sync these, then scan again. */
  truncated: boolean;
};

/** Changes made elsewhere (the store) to bring into the sandbox, each only over what was last synced. */
export type MemoryApply = {
  /** `expectSha256`: the sha256 the file must still have (null: it must not exist), or it is left alone. */
  writes: (MemoryFileRef & { content: string; expectSha256: string | null })[];
  deletes: (MemoryFileRef & { expectSha256: string })[];
};

/** The writes and deletes `applyMemory` left alone, because the file had changed in the sandbox since the last sync. */
export type MemoryApplyResult = { skipped: MemoryFileRef[] };

export type RunToolRequest = {
  /** The model's `tool_use` id: the executor runs each id at most once and re-attaches on repeat. */
  toolUseId: string;
  /** One of the `agent_toolset_20260401` sandbox tools: bash, read, write, edit, glob, grep. */
  name: string;
  input: Record<string, unknown>;
  /** Wall-clock limit for the call when the tool input has none. */
  defaultTimeoutMs?: number | undefined;
  /** The bash shell to run in (each thread of a multi-agent session has its own); default the sandbox's first. */
  shell?: string | undefined;
  signal?: AbortSignal | undefined;
};

/** Where the driver logs (Temporal's activity and worker loggers fit). Debug lines never carry secret or header values. */
export type SandboxLogger = {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
};

/** A started sandbox. */
export interface Sandbox {
  readonly sessionId: string;
  readonly containerId: string;
  runTool(request: RunToolRequest): Promise<ToolOutcome>;
  /** Kills a running tool call (its processes die with it). No-op when it is not running. */
  cancelTool(toolUseId: string): Promise<void>;
  /** The files under the memory mounts that differ from `known`. */
  scanMemory(known: MemoryManifest): Promise<MemoryScan>;
  /** Writes and deletes memory files, each only if the file is still as `expectSha256` says. */
  applyMemory(changes: MemoryApply): Promise<MemoryApplyResult>;
  /**
   * Places skills under `/mnt/skills`, each folder whole or not at all, read-only to the
   * sandbox. A folder already there is kept as it is (a pinned version never changes), so
   * calling this before every use costs nothing once they are in place.
   */
  installSkills(skills: readonly SkillInstall[]): Promise<void>;
}

export interface SandboxDriver {
  /** Returns the session's running sandbox, or starts one on the session's volume. */
  ensure(spec: SandboxSpec): Promise<Sandbox>;
  /** Removes the session's container; with `removeVolume` also its files (`/workspace`, `/mnt/session`). */
  destroy(sessionId: string, options?: { removeVolume?: boolean }): Promise<void>;
}

/**
 * Thrown when the container went away under a call (killed, OOM, daemon restart).
 * Activities turn it into a `SandboxLost` failure; the workflow then reschedules.
 */
export class SandboxLostError extends Error {
  override readonly name = 'SandboxLostError';
}

/**
 * Why a sandbox could not be started. `image_missing` and `packages_failed` (a
 * package manager refused the environment's packages) will not heal by retrying.
 */
export type SandboxStartErrorCode = 'image_missing' | 'packages_failed' | 'start_failed' | 'not_ready';

/** Thrown by `ensure` when no usable sandbox could be started. */
export class SandboxStartError extends Error {
  override readonly name = 'SandboxStartError';
  readonly code: SandboxStartErrorCode;
  constructor(code: SandboxStartErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
