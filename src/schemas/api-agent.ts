import { z } from 'zod';
import { AgentToolName, PermissionPolicy, type AgentDefinition } from './agent.ts';
import { Metadata, MetadataPatch, Timestamp } from './api-common.ts';

/**
 * The agent resource of the Managed Agents API (`client.beta.agents`): what a
 * client sends (`AgentCreateParams`, `AgentUpdateParams`) and what it gets back
 * (`Agent`, the SDK's `BetaManagedAgentsAgent`).
 */

const EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'] as const;
const Effort = z.object({ type: z.enum(EFFORTS) });

// Responses use exactOptional: the SDK types say `effort?: Effort`, never `undefined`.
export const ModelConfig = z.object({
  id: z.string(),
  effort: Effort.exactOptional(),
  inference_geo: z.string().exactOptional(),
  speed: z.enum(['standard', 'fast']).exactOptional(),
});
export type ModelConfig = z.infer<typeof ModelConfig>;

export const ApiModelConfigParams = z.object({
  id: z.string().min(1),
  effort: z.union([z.enum(EFFORTS), Effort]).nullish(),
  inference_geo: z.string().nullish(),
  speed: z.enum(['standard', 'fast']).nullish(),
});

export const ModelParam = z.union([z.string().min(1), ApiModelConfigParams]);
export type ModelParam = z.infer<typeof ModelParam>;

/** The stored form of a model: always the config object. */
export function resolveModel(model: ModelParam): ModelConfig {
  if (typeof model === 'string') return { id: model };
  const resolved: ModelConfig = { id: model.id };
  if (model.effort != null) resolved.effort = typeof model.effort === 'string' ? { type: model.effort } : model.effort;
  if (model.inference_geo != null) resolved.inference_geo = model.inference_geo;
  if (model.speed != null) resolved.speed = model.speed;
  return resolved;
}

const DomainList = z.array(z.string().min(1)).max(64);

export const ToolConfigParams = z
  .object({
    name: AgentToolName,
    type: AgentToolName.optional(),
    enabled: z.boolean().nullish(),
    permission_policy: PermissionPolicy.nullish(),
    allowed_domains: DomainList.optional(),
    blocked_domains: DomainList.optional(),
    max_content_tokens: z.number().int().positive().nullish(),
  })
  .refine((c) => c.type === undefined || c.type === c.name, { message: 'type must equal name', path: ['type'] })
  .refine((c) => !(c.allowed_domains?.length && c.blocked_domains?.length), { message: 'allowed_domains and blocked_domains are mutually exclusive' });

const ToolsetDefaultConfigParams = z.object({ enabled: z.boolean().nullish(), permission_policy: PermissionPolicy.nullish() });

export const AgentToolsetParams = z.object({
  type: z.literal('agent_toolset_20260401'),
  configs: z
    .array(ToolConfigParams)
    .refine((configs) => new Set(configs.map((c) => c.name)).size === configs.length, 'each tool may be configured once')
    .optional(),
  default_config: ToolsetDefaultConfigParams.nullish(),
});
export type AgentToolsetParams = z.infer<typeof AgentToolsetParams>;

// Longhaul runs the built-in toolset today; these are recognised so the error says so.
const UnsupportedTool = (type: string) =>
  z.object({ type: z.literal(type) }).loose().refine(() => false, { message: `${type} tools are not supported by Longhaul yet`, path: ['type'] });

export const ToolParams = z.discriminatedUnion('type', [AgentToolsetParams, UnsupportedTool('mcp_toolset'), UnsupportedTool('custom')]);

const notSupported = (what: string) => z.array(z.unknown()).max(0, `${what} are not supported by Longhaul yet`);

export const ExecutionIdentity = z.discriminatedUnion('type', [
  z.object({ type: z.literal('service_account') }),
  z.object({ type: z.literal('aws_role'), role_arn: z.string().min(1) }),
]);

/** Body of `POST /v1/agents`. */
export const AgentCreateParams = z.object({
  name: z.string().min(1).max(256),
  model: ModelParam,
  description: z.string().max(2048).nullish(),
  system: z.string().max(100_000).nullish(),
  tools: z.array(ToolParams).max(256).optional(),
  mcp_servers: notSupported('mcp_servers').optional(),
  skills: notSupported('skills').optional(),
  multiagent: z.null({ error: 'multiagent is not supported by Longhaul yet' }).optional(),
  metadata: Metadata.optional(),
  execution_identity: ExecutionIdentity.nullish(),
});
export type AgentCreateParams = z.infer<typeof AgentCreateParams>;

/** Body of `POST /v1/agents/{agent_id}`: omitted fields are kept, `version` guards against lost updates. */
export const AgentUpdateParams = z.object({
  name: z.string().min(1).max(256).optional(),
  model: ModelParam.optional(),
  description: z.string().max(2048).nullish(),
  system: z.string().max(100_000).nullish(),
  tools: z.array(ToolParams).max(256).nullish(),
  mcp_servers: notSupported('mcp_servers').nullish(),
  skills: notSupported('skills').nullish(),
  multiagent: z.null({ error: 'multiagent is not supported by Longhaul yet' }).optional(),
  metadata: MetadataPatch.nullish(),
  execution_identity: ExecutionIdentity.nullish(),
  version: z.number().int().min(1).optional(),
});
export type AgentUpdateParams = z.infer<typeof AgentUpdateParams>;

// ---- resolved tools (responses) ------------------------------------------------

const ResolvedPolicy = PermissionPolicy;

function toolConfig<const N extends AgentToolName>(name: N) {
  return z.object({ name: z.literal(name), type: z.literal(name), enabled: z.boolean(), permission_policy: ResolvedPolicy });
}

export const WebFetchToolConfig = toolConfig('web_fetch').extend({
  url_sources: z.null(),
  allowed_domains: DomainList.exactOptional(),
  blocked_domains: DomainList.exactOptional(),
  max_content_tokens: z.number().int().nullable().exactOptional(),
});

export const WebSearchToolConfig = toolConfig('web_search').extend({
  allowed_domains: DomainList.exactOptional(),
  blocked_domains: DomainList.exactOptional(),
});

export const ToolConfig = z.discriminatedUnion('name', [
  toolConfig('bash'),
  toolConfig('edit'),
  toolConfig('read'),
  toolConfig('write'),
  toolConfig('glob'),
  toolConfig('grep'),
  WebFetchToolConfig,
  WebSearchToolConfig,
]);
export type ToolConfig = z.infer<typeof ToolConfig>;

export const AgentToolset = z.object({
  type: z.literal('agent_toolset_20260401'),
  default_config: z.object({ enabled: z.boolean(), permission_policy: ResolvedPolicy }),
  configs: z.array(ToolConfig),
});
export type AgentToolset = z.infer<typeof AgentToolset>;

/** Every built-in tool, in the order the model sees them. */
export const AGENT_TOOL_NAMES = ['bash', 'read', 'write', 'edit', 'glob', 'grep', 'web_fetch', 'web_search'] as const satisfies readonly AgentToolName[];

/** A toolset as sent, with every tool's effective `enabled` and `permission_policy` spelled out. */
export function resolveToolset(params: AgentToolsetParams): AgentToolset {
  const defaultConfig = {
    enabled: params.default_config?.enabled ?? true,
    permission_policy: params.default_config?.permission_policy ?? { type: 'always_allow' as const },
  };
  const configs = AGENT_TOOL_NAMES.map((name): ToolConfig => {
    const given = params.configs?.find((c) => c.name === name);
    const base = {
      enabled: given?.enabled ?? defaultConfig.enabled,
      permission_policy: given?.permission_policy ?? defaultConfig.permission_policy,
    };
    const domains = {
      ...(given?.allowed_domains ? { allowed_domains: given.allowed_domains } : {}),
      ...(given?.blocked_domains ? { blocked_domains: given.blocked_domains } : {}),
    };
    switch (name) {
      case 'web_fetch':
        return {
          name,
          type: name,
          ...base,
          url_sources: null,
          ...domains,
          ...(given?.max_content_tokens != null ? { max_content_tokens: given.max_content_tokens } : {}),
        };
      case 'web_search':
        return { name, type: name, ...base, ...domains };
      default:
        return { name, type: name, ...base } as ToolConfig;
    }
  });
  return { type: 'agent_toolset_20260401', default_config: defaultConfig, configs };
}

/** Resolves the `tools` of create/update params (only the built-in toolset passes validation). */
export function resolveTools(tools: readonly z.infer<typeof ToolParams>[] | null | undefined): AgentToolset[] {
  return (tools ?? []).flatMap((tool) => (tool.type === 'agent_toolset_20260401' ? [resolveToolset(tool as AgentToolsetParams)] : []));
}

// ---- the agent object ------------------------------------------------------------

/** The part of an agent that changes from version to version. */
export const AgentSpec = z.object({
  name: z.string(),
  description: z.string().nullable(),
  system: z.string().nullable(),
  model: ModelConfig,
  tools: z.array(AgentToolset),
  mcp_servers: z.tuple([]),
  skills: z.tuple([]),
  multiagent: z.null(),
  metadata: z.record(z.string(), z.string()),
  execution_identity: ExecutionIdentity,
});
export type AgentSpec = z.infer<typeof AgentSpec>;

/** `BetaManagedAgentsAgent`. */
export const Agent = AgentSpec.extend({
  type: z.literal('agent'),
  id: z.string(),
  version: z.number().int(),
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Agent = z.infer<typeof Agent>;

/** A new agent's first version. */
export function agentSpecFromCreate(params: AgentCreateParams): AgentSpec {
  return {
    name: params.name,
    description: params.description || null,
    system: params.system || null,
    model: resolveModel(params.model),
    tools: resolveTools(params.tools),
    mcp_servers: [],
    skills: [],
    multiagent: null,
    metadata: params.metadata ?? {},
    execution_identity: params.execution_identity ?? { type: 'service_account' },
  };
}

/** What the session workflow runs for this agent. */
export function agentDefinitionOf(agent: Pick<AgentSpec, 'name' | 'model' | 'system' | 'tools'>): AgentDefinition {
  return {
    name: agent.name,
    model: agent.model.speed ? { id: agent.model.id, speed: agent.model.speed } : agent.model.id,
    system: agent.system,
    tools: agent.tools.map((toolset) => ({
      type: 'agent_toolset_20260401',
      default_config: toolset.default_config,
      configs: toolset.configs.map(({ name, enabled, permission_policy }) => ({ name, enabled, permission_policy })),
    })),
  };
}

/** The next version's spec: omitted fields are kept, `null` clears, metadata is a patch. */
export function applyAgentUpdate(current: AgentSpec, params: AgentUpdateParams, applyMetadata: (patch: AgentUpdateParams['metadata']) => AgentSpec['metadata']): AgentSpec {
  return {
    ...current,
    ...(params.name !== undefined ? { name: params.name } : {}),
    ...(params.model !== undefined ? { model: resolveModel(params.model) } : {}),
    ...(params.description !== undefined ? { description: params.description || null } : {}),
    ...(params.system !== undefined ? { system: params.system || null } : {}),
    ...(params.tools !== undefined ? { tools: resolveTools(params.tools) } : {}),
    ...(params.execution_identity !== undefined ? { execution_identity: params.execution_identity ?? { type: 'service_account' as const } } : {}),
    metadata: applyMetadata(params.metadata),
  };
}
