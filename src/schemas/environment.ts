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
});
export type EnvironmentDefinition = z.infer<typeof EnvironmentDefinition>;
export type EnvironmentDefinitionInput = z.input<typeof EnvironmentDefinition>;
