import { z } from 'zod';

export const Networking = z.discriminatedUnion('type', [
  z.object({ type: z.literal('unrestricted') }),
  z.object({
    type: z.literal('limited'),
    allowed_hosts: z.array(z.string().min(1)).optional(),
    allow_package_managers: z.boolean().optional(),
    allow_mcp_servers: z.boolean().optional(),
  }),
]);
export type Networking = z.infer<typeof Networking>;

const PackageList = z.array(z.string().min(1).max(512)).max(256).optional();

/**
 * Packages installed into the sandbox image, per manager, in each manager's own
 * syntax (`requests==2.32.3`, `left-pad@1.3.0`). Built once per distinct set.
 */
export const EnvironmentPackages = z.object({
  apt: PackageList,
  pip: PackageList,
  npm: PackageList,
  cargo: PackageList,
  gem: PackageList,
  go: PackageList,
});
export type EnvironmentPackages = z.infer<typeof EnvironmentPackages>;

/**
 * Where a session's tools run: the sandbox container template and its network
 * policy. Mirrors the cloud `config` of an environment.
 */
export const EnvironmentDefinition = z.object({
  /** Sandbox image; default `longhaul-sandbox:latest`. */
  image: z.string().min(1).optional(),
  networking: Networking.default({ type: 'limited' }),
  memory_mb: z.number().int().min(64).max(65536).optional(),
  cpus: z.number().min(0.1).max(64).optional(),
  pids_limit: z.number().int().min(16).max(65536).optional(),
  /** Disk quota of `/workspace` and `/mnt/session` together, in MiB; fixed when the session's sandbox first starts. */
  disk_mb: z.number().int().min(64).max(16 * 1024 * 1024).optional(),
  packages: EnvironmentPackages.optional(),
  /** Set for a self-hosted environment: its sandbox tools run on its own workers, which poll this environment's work queue. */
  self_hosted: z.object({ environment_id: z.string().min(1) }).optional(),
});
export type EnvironmentDefinition = z.infer<typeof EnvironmentDefinition>;
export type EnvironmentDefinitionInput = z.input<typeof EnvironmentDefinition>;
