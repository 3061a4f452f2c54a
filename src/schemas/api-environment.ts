import { z } from 'zod';
import { Metadata, MetadataPatch, Timestamp } from './api-common.ts';
import type { EnvironmentDefinition } from './environment.ts';

/**
 * The environment resource (`client.beta.environments`): where a session's
 * tools run. Longhaul runs `cloud` environments as Docker sandboxes.
 */

const PackageList = z.array(z.string().min(1)).nullish();

export const PackagesParams = z.object({
  type: z.literal('packages').optional(),
  apt: PackageList,
  cargo: PackageList,
  gem: PackageList,
  go: PackageList,
  npm: PackageList,
  pip: PackageList,
});

export const Packages = z.object({
  type: z.literal('packages'),
  apt: z.array(z.string()),
  cargo: z.array(z.string()),
  gem: z.array(z.string()),
  go: z.array(z.string()),
  npm: z.array(z.string()),
  pip: z.array(z.string()),
});
export type Packages = z.infer<typeof Packages>;

export const UnrestrictedNetwork = z.object({ type: z.literal('unrestricted') });

export const LimitedNetworkParams = z.object({
  type: z.literal('limited'),
  allowed_hosts: z.array(z.string().min(1)).nullish(),
  allow_mcp_servers: z.boolean().nullish(),
  allow_package_managers: z.boolean().nullish(),
});

export const LimitedNetwork = z.object({
  type: z.literal('limited'),
  allowed_hosts: z.array(z.string()),
  allow_mcp_servers: z.boolean(),
  allow_package_managers: z.boolean(),
});

export const CloudConfigParams = z.object({
  type: z.literal('cloud'),
  networking: z.discriminatedUnion('type', [UnrestrictedNetwork, LimitedNetworkParams]).nullish(),
  packages: PackagesParams.nullish(),
});
export type CloudConfigParams = z.infer<typeof CloudConfigParams>;

/** Tools run on the user's own machines, by workers that poll the environment's work queue. */
export const SelfHostedConfig = z.object({ type: z.literal('self_hosted') });
const SelfHostedConfigParams = SelfHostedConfig;

export const CloudConfig = z.object({
  type: z.literal('cloud'),
  networking: z.discriminatedUnion('type', [UnrestrictedNetwork, LimitedNetwork]),
  packages: Packages,
});
export type CloudConfig = z.infer<typeof CloudConfig>;

/** Body of `POST /v1/environments`. */
export const EnvironmentCreateParams = z.object({
  name: z.string().min(1).max(256),
  description: z.string().max(2048).nullish(),
  config: z.discriminatedUnion('type', [CloudConfigParams, SelfHostedConfigParams]).nullish(),
  metadata: Metadata.optional(),
  scope: z.enum(['organization', 'account']).nullish(),
});
export type EnvironmentCreateParams = z.infer<typeof EnvironmentCreateParams>;

/** Body of `POST /v1/environments/{environment_id}`. */
export const EnvironmentUpdateParams = z.object({
  name: z.string().min(1).max(256).nullish(),
  description: z.string().max(2048).nullish(),
  config: z.discriminatedUnion('type', [CloudConfigParams, SelfHostedConfigParams]).nullish(),
  metadata: MetadataPatch.optional(),
  scope: z.enum(['organization', 'account']).nullish(),
});
export type EnvironmentUpdateParams = z.infer<typeof EnvironmentUpdateParams>;

/** `BetaEnvironment`. */
export const Environment = z.object({
  type: z.literal('environment'),
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  config: z.discriminatedUnion('type', [CloudConfig, SelfHostedConfig]),
  metadata: z.record(z.string(), z.string()),
  scope: z.enum(['organization', 'account']),
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Environment = z.infer<typeof Environment>;

/**
 * What creating an environment answers: a self-hosted one comes with `environment_key`, the
 * credential its workers poll with (a Longhaul addition to the object). It is shown this
 * once; `POST /v1/environments/{id}/environment_key` replaces it.
 */
export const CreatedEnvironment = Environment.extend({ environment_key: z.string().optional() });

/** `POST /v1/environments/{environment_id}/environment_key`: a new key for a self-hosted environment's workers. */
export const EnvironmentKey = z.object({ type: z.literal('environment_key'), environment_id: z.string(), environment_key: z.string() });

/**
 * The stored config for create/update params. Omitted networking is `limited`
 * with no hosts: Longhaul's sandboxes get no network unless asked.
 */
export function resolveCloudConfig(params: CloudConfigParams | null | undefined, current?: CloudConfig | undefined): CloudConfig {
  const networking: CloudConfig['networking'] =
    params?.networking == null
      ? (current?.networking ?? { type: 'limited', allowed_hosts: [], allow_mcp_servers: false, allow_package_managers: false })
      : params.networking.type === 'unrestricted'
        ? { type: 'unrestricted' }
        : {
            type: 'limited',
            allowed_hosts: params.networking.allowed_hosts ?? [],
            allow_mcp_servers: params.networking.allow_mcp_servers ?? false,
            allow_package_managers: params.networking.allow_package_managers ?? false,
          };
  const given = params?.packages;
  const packages: Packages =
    given == null
      ? (current?.packages ?? { type: 'packages', apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] })
      : { type: 'packages', apt: given.apt ?? [], cargo: given.cargo ?? [], gem: given.gem ?? [], go: given.go ?? [], npm: given.npm ?? [], pip: given.pip ?? [] };
  return { type: 'cloud', networking, packages };
}

/** What the sandbox driver runs for this environment. */
export function environmentDefinitionOf(environment: Pick<Environment, 'config' | 'id'>): EnvironmentDefinition {
  if (environment.config.type === 'self_hosted') return { networking: { type: 'limited' }, self_hosted: { environment_id: environment.id } };
  const { networking, packages } = environment.config;
  const { apt, pip, npm, cargo, gem, go } = packages;
  const hasPackages = [apt, pip, npm, cargo, gem, go].some((list) => list.length > 0);
  return {
    networking:
      networking.type === 'unrestricted'
        ? { type: 'unrestricted' }
        : { type: 'limited', allowed_hosts: networking.allowed_hosts, allow_mcp_servers: networking.allow_mcp_servers, allow_package_managers: networking.allow_package_managers },
    // Left out when empty: definitions travel in workflow inputs.
    ...(hasPackages ? { packages: { apt, pip, npm, cargo, gem, go } } : {}),
  };
}
