import { z } from 'zod';
import { AgentSpec } from './api-agent.ts';
import { Metadata, MetadataPatch, Timestamp } from './api-common.ts';
import { UserMessageEventParams } from './events.ts';

/** The session resource (`client.beta.sessions`). */

export const SessionAgentParam = z.union([
  z.string().min(1),
  z.object({ type: z.literal('agent'), id: z.string().min(1), version: z.number().int().min(1).optional() }),
  z
    .object({ type: z.literal('agent_with_overrides') })
    .loose()
    .refine(() => false, { message: 'agent_with_overrides is not supported by Longhaul yet', path: ['type'] }),
]);
export type SessionAgentParam = z.infer<typeof SessionAgentParam>;

const notSupported = (what: string) => z.array(z.unknown()).max(0, `${what} are not supported by Longhaul yet`);

const InitialEvent = z.discriminatedUnion('type', [
  UserMessageEventParams,
  z
    .object({ type: z.literal('user.define_outcome') })
    .loose()
    .refine(() => false, { message: 'user.define_outcome is not supported by Longhaul yet', path: ['type'] }),
]);

/** Body of `POST /v1/sessions`. */
export const SessionCreateParams = z.object({
  agent: SessionAgentParam,
  environment_id: z.string().min(1),
  title: z.string().max(512).nullish(),
  metadata: Metadata.optional(),
  initial_events: z.array(InitialEvent).max(50).optional(),
  resources: notSupported('resources').optional(),
  vault_ids: notSupported('vault_ids').optional(),
  budget: z.null({ error: 'budget is not supported by Longhaul yet' }).optional(),
});
export type SessionCreateParams = z.infer<typeof SessionCreateParams>;

/** Body of `POST /v1/sessions/{session_id}`. */
export const SessionUpdateParams = z.object({
  title: z.string().max(512).nullish(),
  metadata: MetadataPatch.nullish(),
});
export type SessionUpdateParams = z.infer<typeof SessionUpdateParams>;

export const SessionStatus = z.enum(['idle', 'running', 'rescheduling', 'terminated']);
export type SessionStatus = z.infer<typeof SessionStatus>;

/** The agent snapshot a session runs (`BetaManagedAgentsSessionAgent`). */
export const SessionAgent = AgentSpec.omit({ metadata: true }).extend({
  type: z.literal('agent'),
  id: z.string(),
  version: z.number().int(),
});
export type SessionAgent = z.infer<typeof SessionAgent>;

export const SessionUsage = z.object({
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cache_read_input_tokens: z.number().int(),
  cache_creation: z.object({ ephemeral_5m_input_tokens: z.number().int() }),
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
  resources: z.tuple([]),
  vault_ids: z.array(z.string()),
  budget: z.null(),
  outcome_evaluations: z.tuple([]),
  stats: z.object({ duration_seconds: z.number().exactOptional() }),
  usage: SessionUsage,
  deployment_id: z.null(),
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Session = z.infer<typeof Session>;

export const DeletedSession = z.object({ id: z.string(), type: z.literal('session_deleted') });
