import { z } from 'zod';
import { MAX_CENTS } from '../core/budget.ts';
import { AgentSpec, checkToolReferences, McpServerParams, ModelParam, ToolList, multiagentOf } from './api-agent.ts';
import { INT32_MAX, Metadata, MetadataPatch, Timestamp, exactOptional } from './api-common.ts';
import { SessionResource } from './api-file.ts';
import { AgentSkillList } from './api-skill.ts';
import { UserDefineOutcomeEventParams, UserMessageEventParams } from './events.ts';

/** The session resource (`client.beta.sessions`). */

export const SessionAgentParam = z.union([
  z.string().min(1),
  z.object({ type: z.literal('agent'), id: z.string().min(1), version: z.number().int().min(1).max(INT32_MAX).optional() }),
  /** An agent version with some of its settings replaced for this session only (no new version is made). */
  z
    .object({
      type: z.literal('agent_with_overrides'),
      id: z.string().min(1),
      version: z.number().int().min(1).max(INT32_MAX).optional(),
      model: ModelParam.optional(),
      system: z.string().max(100_000).nullish(),
      tools: ToolList.optional(),
      mcp_servers: z.array(McpServerParams).max(20).optional(),
      skills: AgentSkillList.optional(),
    })
    .superRefine((value, ctx) => checkToolReferences(value, ctx)),
]);
export type SessionAgentParam = z.infer<typeof SessionAgentParam>;

const notSupported = (what: string) => z.array(z.unknown()).max(0, `${what} are not supported by Longhaul yet`);

const InitialEvent = z.discriminatedUnion('type', [UserMessageEventParams, UserDefineOutcomeEventParams]);

/** `BetaManagedAgentsBudgetLimit`: the most a session may spend, at list prices, in minor units (USD cents). */
export const BudgetLimit = z.object({
  type: z.literal('limit'),
  max_list_cost: z.object({
    amount: z
      .string()
      .regex(/^(0|[1-9]\d*)$/, 'amount must be an integer string of cents with no leading zeros, such as "2500" for $25.00')
      .refine((amount) => amount.length <= 9 && Number(amount) <= MAX_CENTS, `amount must be at most ${MAX_CENTS} cents`),
    currency: z.literal('USD', { error: 'currency must be "USD"' }),
  }),
});
export type BudgetLimit = z.infer<typeof BudgetLimit>;

// `uniqueItems` says the refinement in the document, which does not see refinements.
const VaultIds = z.array(z.string().min(1)).max(50).meta({ uniqueItems: true }).refine((ids) => new Set(ids).size === ids.length, 'vault_ids must not repeat');

/** Body of `POST /v1/sessions`. */
export const SessionCreateParams = z.object({
  agent: SessionAgentParam,
  environment_id: z.string().min(1),
  title: z.string().max(512).nullish(),
  metadata: Metadata.optional(),
  initial_events: z.array(InitialEvent).max(50).optional(),
  resources: notSupported('resources').optional(),
  vault_ids: VaultIds.optional(),
  budget: BudgetLimit.optional(),
});
export type SessionCreateParams = z.infer<typeof SessionCreateParams>;

/**
 * `BetaManagedAgentsSessionAgentUpdate`: the tools and MCP servers a session's agent has
 * from its next model request on, each list replaced whole (the rest of its version stays).
 * What a toolset names is checked against the merged lists (`sessions.update`).
 */
export const SessionAgentUpdate = z.object({
  tools: ToolList.optional(),
  mcp_servers: z.array(McpServerParams).max(20).optional(),
});
export type SessionAgentUpdate = z.infer<typeof SessionAgentUpdate>;

/** Body of `POST /v1/sessions/{session_id}`. */
export const SessionUpdateParams = z.object({
  /** Only while the session is not running, and only for a session created from an agent (or a deployment). */
  agent: SessionAgentUpdate.optional(),
  title: z.string().max(512).nullish(),
  metadata: MetadataPatch.nullish(),
  /** A new budget (`null` lifts it); raising it resumes a session stopped at its budget. */
  budget: BudgetLimit.nullish(),
  vault_ids: VaultIds.optional(),
});
export type SessionUpdateParams = z.infer<typeof SessionUpdateParams>;

export const SessionStatus = z.enum(['idle', 'running', 'rescheduling', 'terminated']);
export type SessionStatus = z.infer<typeof SessionStatus>;

/** An agent version as a thread runs it (`BetaManagedAgentsSessionThreadAgent`): no metadata, no roster. */
export const SessionThreadAgent = AgentSpec.omit({ metadata: true, multiagent: true }).extend({
  type: z.literal('agent'),
  id: z.string(),
  version: z.number().int(),
});
export type SessionThreadAgent = z.infer<typeof SessionThreadAgent>;

/** A session's roster (`BetaManagedAgentsSessionMultiagent`): the agent's, with each member's full snapshot. */
export const SessionMultiagent = multiagentOf(SessionThreadAgent);
export type SessionMultiagent = z.infer<typeof SessionMultiagent>;

/** The agent snapshot a session runs (`BetaManagedAgentsSessionAgent`), its roster pinned with it. */
export const SessionAgent = SessionThreadAgent.extend({ multiagent: SessionMultiagent.nullable() });
export type SessionAgent = z.infer<typeof SessionAgent>;

export const MonetaryAmount = z.object({ amount: z.string(), currency: z.literal('USD') });

export const SessionUsage = z.object({
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cache_read_input_tokens: z.number().int(),
  cache_creation: z.object({ ephemeral_5m_input_tokens: z.number().int() }),
  list_cost: MonetaryAmount.nullable(),
  /** Seconds the session spent running; idle time (including waits for approvals) is not counted. */
  active_seconds: z.number(),
});
export type SessionUsage = z.infer<typeof SessionUsage>;

/** `BetaManagedAgentsSession`. */
export const Session = z.object({
  type: z.literal('session'),
  id: z.string(),
  agent: SessionAgent,
  environment_id: z.string(),
  status: SessionStatus,
  title: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  resources: z.array(SessionResource),
  vault_ids: z.array(z.string()),
  budget: BudgetLimit.nullable(),
  outcome_evaluations: z.array(
    z.object({
      type: z.literal('outcome_evaluation'),
      outcome_id: z.string(),
      description: z.string(),
      iteration: z.number().int(),
      result: z.string(),
      explanation: z.string().nullable(),
      completed_at: Timestamp.nullable(),
    }),
  ),
  stats: z.object({ duration_seconds: exactOptional(z.number()), active_seconds: exactOptional(z.number()) }),
  usage: SessionUsage,
  /** The deployment whose run created the session; null otherwise. */
  deployment_id: z.string().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Session = z.infer<typeof Session>;

export const DeletedSession = z.object({ id: z.string(), type: z.literal('session_deleted') });
