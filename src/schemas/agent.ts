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

/** A tool the client runs: the model's call becomes `agent.custom_tool_use`, the client answers it. */
export const CustomToolDefinition = z.object({
  type: z.literal('custom'),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'name must be 1-64 letters, digits, _ or -'),
  description: z.string().max(10_000),
  input_schema: z.object({ type: z.literal('object') }).loose(),
});
export type CustomToolDefinition = z.infer<typeof CustomToolDefinition>;

const McpToolConfig = z.object({ name: z.string().min(1), enabled: z.boolean().nullish(), permission_policy: PermissionPolicy.nullish() });

/** The tools of one MCP server, with per-tool switches and permission policies. */
export const McpToolsetDefinition = z.object({
  type: z.literal('mcp_toolset'),
  mcp_server_name: z.string().min(1),
  configs: z.array(McpToolConfig).optional(),
  default_config: z.object({ enabled: z.boolean().nullish(), permission_policy: PermissionPolicy.nullish() }).nullish(),
});
export type McpToolsetDefinition = z.infer<typeof McpToolsetDefinition>;

/** An MCP server reached over streamable HTTP; its credential comes from the session's vaults. */
export const McpServerDefinition = z.object({ type: z.literal('url'), name: z.string().min(1).max(128), url: z.string().url() });
export type McpServerDefinition = z.infer<typeof McpServerDefinition>;

export const ToolDefinition = z.discriminatedUnion('type', [AgentToolset20260401Params, CustomToolDefinition, McpToolsetDefinition]);
export type ToolDefinition = z.infer<typeof ToolDefinition>;

export const ModelConfigParams = z.object({
  id: z.string().min(1),
  speed: z.enum(['standard', 'fast']).nullish(),
});

/**
 * A skill version as a session pinned it at creation: what the agent is told of it (its
 * name and description, never its instructions) and where its folder is in the sandbox.
 */
export const PinnedSkill = z.object({
  skill_id: z.string(),
  /** The version's id (never `latest`: that is resolved when the session is created). */
  version: z.string(),
  name: z.string(),
  description: z.string(),
  /** Its folder in the sandbox, `/mnt/skills/<folder>`, read-only. */
  path: z.string(),
});
export type PinnedSkill = z.infer<typeof PinnedSkill>;

/**
 * What a session runs: the model, its system prompt and its tools. This is the
 * part of `AgentCreateParams` the session loop needs.
 */
const SingleAgentDefinition = z.object({
  name: z.string().min(1).max(256).default('agent'),
  model: z.union([z.string().min(1), ModelConfigParams]),
  system: z.string().nullish(),
  tools: z.array(ToolDefinition).default([]),
  /** Absent in sessions started before MCP support; read it as `[]`. */
  mcp_servers: z.array(McpServerDefinition).optional(),
  /** Its skills, pinned at session creation (absent: none, as in sessions started before skills). */
  skills: z.array(PinnedSkill).optional(),
});

/**
 * One agent a coordinator may delegate to, pinned at session creation: its saved id and
 * version and what its thread runs. `self` marks the coordinator's own entry: its thread
 * runs the coordinator's definition, roster included, so it may delegate in turn.
 */
export const RosterMember = z.object({
  agent_id: z.string(),
  version: z.number().int(),
  name: z.string(),
  description: z.string().nullable(),
  self: z.boolean().default(false),
  definition: SingleAgentDefinition,
});
export type RosterMember = z.infer<typeof RosterMember>;

export const AgentDefinition = SingleAgentDefinition.extend({
  /** Multi-agent sessions: the agents this one may delegate to (absent or empty: it works alone). */
  roster: z.array(RosterMember).max(20).optional(),
});
export type AgentDefinition = z.infer<typeof AgentDefinition>;
export type AgentDefinitionInput = z.input<typeof AgentDefinition>;
