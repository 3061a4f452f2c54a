import { z } from 'zod';
import { AgentToolName, CustomToolDefinition, McpServerDefinition, PermissionPolicy, type AgentDefinition, type PinnedSkill } from './agent.ts';
import { INT32_MAX, Metadata, MetadataPatch, Timestamp, exactOptional } from './api-common.ts';
import { AgentSkill, AgentSkillList } from './api-skill.ts';

/**
 * The agent resource of the Managed Agents API (`client.beta.agents`): what a
 * client sends (`AgentCreateParams`, `AgentUpdateParams`) and what it gets back
 * (`Agent`, the SDK's `BetaManagedAgentsAgent`).
 */

const EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'] as const;
const Effort = z.object({ type: z.enum(EFFORTS) });

// Responses use exactOptional: the SDK types say `effort?: Effort`, never `undefined` (see `exactOptional`).
export const ModelConfig = z.object({
  id: z.string(),
  effort: exactOptional(Effort),
  inference_geo: exactOptional(z.string()),
  speed: exactOptional(z.enum(['standard', 'fast'])),
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
    max_content_tokens: z.number().int().positive().max(INT32_MAX).nullish(),
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

const McpToolConfigParams = z.object({ name: z.string().min(1).max(128), enabled: z.boolean().nullish(), permission_policy: PermissionPolicy.nullish() });

export const McpToolsetParams = z.object({
  type: z.literal('mcp_toolset'),
  mcp_server_name: z.string().min(1).max(128),
  configs: z
    .array(McpToolConfigParams)
    .refine((configs) => new Set(configs.map((c) => c.name)).size === configs.length, 'each tool may be configured once')
    .optional(),
  default_config: z.object({ enabled: z.boolean().nullish(), permission_policy: PermissionPolicy.nullish() }).nullish(),
});
export type McpToolsetParams = z.infer<typeof McpToolsetParams>;

export const CustomToolParams = CustomToolDefinition;

export const ToolParams = z.discriminatedUnion('type', [AgentToolsetParams, McpToolsetParams, CustomToolParams]);
export type ToolParams = z.infer<typeof ToolParams>;

export const McpServerParams = McpServerDefinition;

/**
 * Tools travel in the input of every session's workflow, and Temporal refuses inputs over
 * 2 MiB: a limit well under that keeps an agent with huge tool schemas a 400 here rather
 * than a session that cannot start.
 */
export const MAX_TOOLS_JSON_BYTES = 512 * 1024;

/** An agent's `tools`: at most 256, at most `MAX_TOOLS_JSON_BYTES` as JSON. */
export const ToolList = z
  .array(ToolParams)
  .max(256)
  .refine((tools) => Buffer.byteLength(JSON.stringify(tools)) <= MAX_TOOLS_JSON_BYTES, {
    message: `tools must take at most ${MAX_TOOLS_JSON_BYTES} bytes as JSON (input schemas included)`,
  });

/** Server names are unique, tool names are unique, and every MCP toolset names a declared server. */
export function checkToolReferences(
  value: { tools?: readonly ToolParams[] | null | undefined; mcp_servers?: readonly McpServerDefinition[] | null | undefined },
  ctx: z.RefinementCtx,
  current?: { tools: readonly unknown[]; mcp_servers: readonly McpServerDefinition[] },
): void {
  const servers = value.mcp_servers ?? current?.mcp_servers ?? [];
  const names = new Set<string>();
  (value.mcp_servers ?? []).forEach((server, index) => {
    if (names.has(server.name)) ctx.addIssue({ code: 'custom', path: ['mcp_servers', index, 'name'], message: `mcp server name ${server.name} is used twice` });
    names.add(server.name);
  });
  const toolNames = new Set<string>();
  (value.tools ?? []).forEach((tool, index) => {
    if (tool.type === 'mcp_toolset' && !servers.some((s) => s.name === tool.mcp_server_name)) {
      ctx.addIssue({ code: 'custom', path: ['tools', index, 'mcp_server_name'], message: `no mcp_servers entry is named ${tool.mcp_server_name}` });
    }
    if (tool.type === 'custom') {
      if (toolNames.has(tool.name) || (AGENT_TOOL_NAMES as readonly string[]).includes(tool.name)) {
        ctx.addIssue({ code: 'custom', path: ['tools', index, 'name'], message: `tool name ${tool.name} is already taken` });
      }
      toolNames.add(tool.name);
    }
  });
}

// ---- multiagent ------------------------------------------------------------------

const AgentRefParam = z.object({ type: z.literal('agent'), id: z.string().min(1), version: z.number().int().min(1).max(INT32_MAX).optional() });
const SelfParam = z.object({ type: z.literal('self') });
const AdvisorParam = z.object({ type: z.literal('advisor'), model: z.string().min(1) });
const PredefinedAgentParam = z.union([z.string().min(1), AgentRefParam, SelfParam]);
export type PredefinedAgentParam = z.infer<typeof PredefinedAgentParam>;
/** A `multiagent_20261001` member switched off (advisor, subagents, workflows, inline agents alike), sent or shown. */
const Disabled = z.object({ type: z.literal('disabled') });
const Enabled = z.object({ type: z.literal('enabled') });

/** `coordinator`: the roster the session's primary thread may start threads with (1–20 entries). */
const MultiagentCoordinatorParams = z.object({
  type: z.literal('coordinator'),
  agents: z.array(z.union([z.string().min(1), AgentRefParam, SelfParam, AdvisorParam])).min(1).max(20),
});

/** `multiagent_20261001`: three members, each enabled or disabled (Longhaul serves `subagents`). */
const Multiagent20261001Params = z.object({
  type: z.literal('multiagent_20261001'),
  subagents: z
    .discriminatedUnion('type', [Enabled.extend({ inline_agents: z.discriminatedUnion('type', [Enabled, Disabled]).nullish(), predefined_agents: z.array(PredefinedAgentParam).max(20).nullish() }), Disabled])
    .nullish(),
  workflows: z.discriminatedUnion('type', [Enabled.loose(), Disabled]).nullish(),
  advisor: z.discriminatedUnion('type', [Enabled.extend({ model: z.string().min(1) }), Disabled]).nullish(),
});

/**
 * `multiagent` of create and update, in both shapes the SDK declares. Longhaul serves
 * delegation to saved agents; workflow runs, advisors and inline agents it does not, so
 * asking for them is a 400 naming the field. Left out or null, they resolve to `disabled`:
 * a deliberate difference from the hosted service, where null or absent `workflows` and
 * `inline_agents` take their default, enabled.
 */
export const MultiagentParams = z.discriminatedUnion('type', [MultiagentCoordinatorParams, Multiagent20261001Params]).superRefine((value, ctx) => {
  const notServed = (path: (string | number)[], what: string) => ctx.addIssue({ code: 'custom', path, message: `${what} not supported by Longhaul yet` });
  const entries = value.type === 'coordinator' ? value.agents : value.subagents?.type === 'enabled' ? (value.subagents.predefined_agents ?? []) : [];
  const listPath = value.type === 'coordinator' ? ['agents'] : ['subagents', 'predefined_agents'];
  entries.forEach((entry, index) => {
    if (typeof entry === 'object' && entry.type === 'advisor') notServed([...listPath, index], 'advisor roster entries are');
  });
  if (entries.filter((entry) => typeof entry === 'object' && entry.type === 'self').length > 1) ctx.addIssue({ code: 'custom', path: listPath, message: 'at most one entry may be {type: "self"}' });
  if (value.type === 'multiagent_20261001') {
    if (value.workflows?.type === 'enabled') notServed(['workflows'], 'workflow runs are');
    if (value.advisor?.type === 'enabled') notServed(['advisor'], 'advisors are');
    if (value.subagents?.type === 'enabled' && value.subagents.inline_agents?.type === 'enabled') notServed(['subagents', 'inline_agents'], 'inline agents are');
  }
});
export type MultiagentParams = z.infer<typeof MultiagentParams>;

/** The version a stored roster gives its `self` entry: "the version that holds this roster" (see the agent store). */
export const SELF_VERSION = 0;

/** A saved agent pinned at a version (`BetaManagedAgentsAgentReference`). */
export const AgentReference = z.object({ type: z.literal('agent'), id: z.string(), version: z.number().int() });
export type AgentReference = z.infer<typeof AgentReference>;

/** A resolved `multiagent` in both shapes, its roster entries being `member`s (references on an agent, snapshots on a session). */
export function multiagentOf<T extends z.ZodType>(member: T) {
  return z.discriminatedUnion('type', [
    z.object({ type: z.literal('coordinator'), agents: z.array(member) }),
    z.object({
      type: z.literal('multiagent_20261001'),
      advisor: Disabled,
      subagents: z.discriminatedUnion('type', [z.object({ type: z.literal('enabled'), inline_agents: Disabled, predefined_agents: z.array(member) }), Disabled]),
      workflows: Disabled,
    }),
  ]);
}

/** `multiagent` as an agent shows it: every roster entry resolved to an agent version. */
export const Multiagent = multiagentOf(AgentReference);
export type Multiagent = z.infer<typeof Multiagent>;

/**
 * An update's `multiagent` with its entries resolved (`rosterRefs`), before it meets the
 * stored one: a `multiagent_20261001` member left out is `undefined` (kept on a merge).
 */
export type ResolvedMultiagentParams =
  | Extract<Multiagent, { type: 'coordinator' }>
  | { type: 'multiagent_20261001'; subagents?: { type: 'enabled'; predefined_agents?: AgentReference[] | undefined } | { type: 'disabled' } | undefined };

/** The agents of a roster: the coordinator's, or the enabled subagents' (none otherwise). */
export function rosterRefs(multiagent: Multiagent | null): AgentReference[] {
  if (multiagent === null) return [];
  if (multiagent.type === 'coordinator') return multiagent.agents;
  return multiagent.subagents.type === 'enabled' ? multiagent.subagents.predefined_agents : [];
}

/** The stored `multiagent` after an update: a `multiagent_20261001` over a stored one merges member by member, anything else replaces. */
export function mergeMultiagent(current: Multiagent | null, update: ResolvedMultiagentParams | null): Multiagent | null {
  if (update === null) return null;
  if (update.type === 'coordinator') return update;
  const stored = current?.type === 'multiagent_20261001' ? current : undefined;
  const sent = update.subagents;
  let subagents: Extract<Multiagent, { type: 'multiagent_20261001' }>['subagents'];
  if (sent === undefined) subagents = stored?.subagents ?? { type: 'enabled', inline_agents: { type: 'disabled' }, predefined_agents: [] };
  else if (sent.type === 'disabled') subagents = sent;
  else {
    const kept = stored?.subagents.type === 'enabled' ? stored.subagents.predefined_agents : [];
    subagents = { type: 'enabled', inline_agents: { type: 'disabled' }, predefined_agents: sent.predefined_agents ?? kept };
  }
  return { type: 'multiagent_20261001', advisor: { type: 'disabled' }, subagents, workflows: { type: 'disabled' } };
}

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
  tools: ToolList.optional(),
  mcp_servers: z.array(McpServerParams).max(20).optional(),
  skills: AgentSkillList.optional(),
  multiagent: MultiagentParams.nullish(),
  metadata: Metadata.optional(),
  execution_identity: ExecutionIdentity.nullish(),
}).superRefine((value, ctx) => checkToolReferences(value, ctx));
export type AgentCreateParams = z.infer<typeof AgentCreateParams>;

/** Body of `POST /v1/agents/{agent_id}`: omitted fields are kept, `version` guards against lost updates. */
export const AgentUpdateParams = z.object({
  name: z.string().min(1).max(256).optional(),
  model: ModelParam.optional(),
  description: z.string().max(2048).nullish(),
  system: z.string().max(100_000).nullish(),
  tools: ToolList.nullish(),
  mcp_servers: z.array(McpServerParams).max(20).nullish(),
  skills: AgentSkillList.nullish(),
  multiagent: MultiagentParams.nullish(),
  metadata: MetadataPatch.nullish(),
  execution_identity: ExecutionIdentity.nullish(),
  version: z.number().int().min(1).max(INT32_MAX).optional(),
});
export type AgentUpdateParams = z.infer<typeof AgentUpdateParams>;

// ---- resolved tools (responses) ------------------------------------------------

const ResolvedPolicy = PermissionPolicy;

function toolConfig<const N extends AgentToolName>(name: N) {
  return z.object({ name: z.literal(name), type: z.literal(name), enabled: z.boolean(), permission_policy: ResolvedPolicy });
}

export const WebFetchToolConfig = toolConfig('web_fetch').extend({
  url_sources: z.null(),
  allowed_domains: exactOptional(DomainList),
  blocked_domains: exactOptional(DomainList),
  max_content_tokens: exactOptional(z.number().int().max(INT32_MAX).nullable()),
});

export const WebSearchToolConfig = toolConfig('web_search').extend({
  allowed_domains: exactOptional(DomainList),
  blocked_domains: exactOptional(DomainList),
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

/** `BetaManagedAgentsMCPToolset`: MCP tools ask before running unless configured otherwise. */
export const McpToolset = z.object({
  type: z.literal('mcp_toolset'),
  mcp_server_name: z.string(),
  default_config: z.object({ enabled: z.boolean(), permission_policy: ResolvedPolicy }),
  configs: z.array(z.object({ name: z.string(), enabled: z.boolean(), permission_policy: ResolvedPolicy })),
});
export type McpToolset = z.infer<typeof McpToolset>;

export const CustomTool = z.object({
  type: z.literal('custom'),
  name: z.string(),
  description: z.string(),
  input_schema: z.object({ type: z.literal('object') }).loose(),
});

export const AgentTool = z.discriminatedUnion('type', [AgentToolset, McpToolset, CustomTool]);
export type AgentTool = z.infer<typeof AgentTool>;

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

/** Resolves the `tools` of create/update params: every default spelled out. */
export function resolveTools(tools: readonly ToolParams[] | null | undefined): AgentTool[] {
  return (tools ?? []).map((tool): AgentTool => {
    switch (tool.type) {
      case 'agent_toolset_20260401':
        return resolveToolset(tool);
      case 'mcp_toolset': {
        const defaultConfig = { enabled: tool.default_config?.enabled ?? true, permission_policy: tool.default_config?.permission_policy ?? { type: 'always_ask' as const } };
        return {
          type: 'mcp_toolset',
          mcp_server_name: tool.mcp_server_name,
          default_config: defaultConfig,
          configs: (tool.configs ?? []).map((c) => ({ name: c.name, enabled: c.enabled ?? defaultConfig.enabled, permission_policy: c.permission_policy ?? defaultConfig.permission_policy })),
        };
      }
      case 'custom':
        return { type: 'custom', name: tool.name, description: tool.description, input_schema: tool.input_schema };
    }
  });
}

// ---- the agent object ------------------------------------------------------------

/** The part of an agent that changes from version to version. */
export const AgentSpec = z.object({
  name: z.string(),
  description: z.string().nullable(),
  system: z.string().nullable(),
  model: ModelConfig,
  tools: z.array(AgentTool),
  mcp_servers: z.array(z.object({ type: z.literal('url'), name: z.string(), url: z.string() })),
  /** `version` is `latest` where none was pinned: a session resolves it when it starts. */
  skills: z.array(AgentSkill),
  /** Null when the agent works alone. */
  multiagent: Multiagent.nullable(),
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

/** A new agent's first version, its `multiagent` (`resolveRoster`) and `skills` (`resolveAgentSkills`) already resolved. */
export function agentSpecFromCreate(params: AgentCreateParams, multiagent: Multiagent | null = null, skills: AgentSkill[] = []): AgentSpec {
  return {
    name: params.name,
    description: params.description || null,
    system: params.system || null,
    model: resolveModel(params.model),
    tools: resolveTools(params.tools),
    mcp_servers: params.mcp_servers ?? [],
    skills,
    multiagent,
    metadata: params.metadata ?? {},
    execution_identity: params.execution_identity ?? { type: 'service_account' },
  };
}

/** What the session workflow runs for this agent, with the skills the session pinned for it. */
export function agentDefinitionOf(agent: Pick<AgentSpec, 'name' | 'model' | 'system' | 'tools' | 'mcp_servers'>, skills: readonly PinnedSkill[] = []): AgentDefinition {
  return {
    name: agent.name,
    model: agent.model.speed ? { id: agent.model.id, speed: agent.model.speed } : agent.model.id,
    system: agent.system,
    tools: agent.tools.map((tool) =>
      tool.type === 'agent_toolset_20260401'
        ? { type: 'agent_toolset_20260401', default_config: tool.default_config, configs: tool.configs.map(({ name, enabled, permission_policy }) => ({ name, enabled, permission_policy })) }
        : tool,
    ),
    ...(agent.mcp_servers.length > 0 ? { mcp_servers: agent.mcp_servers } : {}),
    ...(skills.length > 0 ? { skills: [...skills] } : {}),
  };
}

/** What is wrong with a spec (an update may remove a server a toolset still names, or merge a roster empty). */
export function agentSpecProblem(spec: Pick<AgentSpec, 'tools' | 'mcp_servers'> & { multiagent?: Multiagent | null | undefined }): string | undefined {
  if (spec.multiagent?.type === 'multiagent_20261001' && spec.multiagent.subagents.type === 'enabled' && spec.multiagent.subagents.predefined_agents.length === 0) {
    return 'multiagent.subagents.predefined_agents: must name at least one agent (inline agents are not supported by Longhaul yet)';
  }
  for (const [index, tool] of spec.tools.entries()) {
    if (tool.type === 'mcp_toolset' && !spec.mcp_servers.some((s) => s.name === tool.mcp_server_name)) {
      return `tools.${index}.mcp_server_name: no mcp_servers entry is named ${tool.mcp_server_name}`;
    }
  }
  return undefined;
}

/** An update with its `multiagent` (`resolveRoster`) and `skills` (`resolveAgentSkills`) resolved; the rest as sent. */
export type ResolvedAgentUpdate = Omit<AgentUpdateParams, 'multiagent' | 'skills'> & { multiagent?: ResolvedMultiagentParams | null | undefined; skills?: AgentSkill[] | null | undefined };

/** The next version's spec: omitted fields are kept, `null` clears, metadata is a patch. */
export function applyAgentUpdate(current: AgentSpec, params: ResolvedAgentUpdate, applyMetadata: (patch: AgentUpdateParams['metadata']) => AgentSpec['metadata']): AgentSpec {
  return {
    ...current,
    ...(params.name !== undefined ? { name: params.name } : {}),
    ...(params.model !== undefined ? { model: resolveModel(params.model) } : {}),
    ...(params.description !== undefined ? { description: params.description || null } : {}),
    ...(params.system !== undefined ? { system: params.system || null } : {}),
    ...(params.tools !== undefined ? { tools: resolveTools(params.tools) } : {}),
    ...(params.mcp_servers !== undefined ? { mcp_servers: params.mcp_servers ?? [] } : {}),
    ...(params.skills !== undefined ? { skills: params.skills ?? [] } : {}),
    ...(params.execution_identity !== undefined ? { execution_identity: params.execution_identity ?? { type: 'service_account' as const } } : {}),
    ...(params.multiagent !== undefined ? { multiagent: mergeMultiagent(current.multiagent, params.multiagent) } : {}),
    metadata: applyMetadata(params.metadata),
  };
}
