import { z } from 'zod';

/** Permission policy of a tool (`always_allow`, `always_ask`, `auto`). */
export const PermissionPolicy = z.discriminatedUnion('type', [
  z.object({ type: z.literal('always_allow') }),
  z.object({ type: z.literal('always_ask') }),
  z.object({ type: z.literal('auto') }),
]);

export const AgentToolName = z.enum(['bash', 'edit', 'read', 'write', 'glob', 'grep', 'web_fetch', 'web_search']);
export type AgentToolName = z.infer<typeof AgentToolName>;

export const AgentToolConfigParams = z.object({
  name: AgentToolName,
  type: z.literal('agent_toolset_20260401').optional(),
  enabled: z.boolean().nullish(),
  permission_policy: PermissionPolicy.nullish(),
});

export const AgentToolset20260401Params = z.object({
  type: z.literal('agent_toolset_20260401'),
  configs: z.array(AgentToolConfigParams).optional(),
  default_config: z
    .object({ enabled: z.boolean().nullish(), permission_policy: PermissionPolicy.nullish() })
    .nullish(),
});
export type AgentToolset20260401Params = z.infer<typeof AgentToolset20260401Params>;

export const ModelConfigParams = z.object({
  id: z.string().min(1),
  speed: z.enum(['standard', 'fast']).nullish(),
});

/**
 * What a session runs: the model, its system prompt and its tools. This is the
 * part of `AgentCreateParams` the session loop needs.
 */
export const AgentDefinition = z.object({
  name: z.string().min(1).max(256).default('agent'),
  model: z.union([z.string().min(1), ModelConfigParams]),
  system: z.string().nullish(),
  tools: z.array(AgentToolset20260401Params).default([]),
});
export type AgentDefinition = z.infer<typeof AgentDefinition>;
export type AgentDefinitionInput = z.input<typeof AgentDefinition>;

export function modelId(model: AgentDefinition['model']): string {
  return typeof model === 'string' ? model : model.id;
}
