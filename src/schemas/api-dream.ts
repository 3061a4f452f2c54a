import { z } from 'zod';
import { PageQuery, QueryBoolean, QueryTimestamp, Timestamp } from './api-common.ts';
import { CronSchedule, CronScheduleParams } from './api-deployment.ts';

/** Dreams (`client.beta.dreams`): background jobs that curate a memory store from past sessions. */

export const DreamStatus = z.enum(['pending', 'running', 'completed', 'failed', 'canceled']);
export type DreamStatus = z.infer<typeof DreamStatus>;

/** Statuses a dream never leaves. */
export const FINAL_DREAM_STATUSES: readonly DreamStatus[] = ['completed', 'failed', 'canceled'];

const MemoryStoreInput = z.object({ type: z.literal('memory_store'), memory_store_id: z.string().min(1) });
const SessionsInput = z.object({
  type: z.literal('sessions'),
  session_ids: z
    .array(z.string().min(1))
    .min(1, 'must hold 1 to 100 session ids')
    .max(100, 'must hold 1 to 100 session ids')
    .meta({ uniqueItems: true })
    .refine((ids) => new Set(ids).size === ids.length, 'must not repeat a session id'),
});
export const DreamInput = z.discriminatedUnion('type', [MemoryStoreInput, SessionsInput]);
export type DreamInput = z.infer<typeof DreamInput>;

export const OutputBehavior = z.discriminatedUnion('type', [
  z.object({ type: z.literal('create_new') }),
  z.object({ type: z.literal('update_existing'), memory_store_id: z.string().min(1) }),
]);
export type OutputBehavior = z.infer<typeof OutputBehavior>;

const ModelParam = z.union([
  z.string().min(1).max(256),
  z.object({
    id: z.string().min(1).max(256),
    speed: z.enum(['standard', 'fast']).nullish().refine((speed) => speed == null || speed === 'standard', 'dreams run at standard speed only'),
  }),
]);

export const DreamCreateParams = z
  .object({
    inputs: z.array(DreamInput),
    model: ModelParam,
    instructions: z.string().min(1).max(4096).nullish(),
    output_behavior: OutputBehavior.optional(),
  })
  .superRefine((params, ctx) => {
    const stores = params.inputs.filter((i) => i.type === 'memory_store');
    const sessions = params.inputs.filter((i) => i.type === 'sessions');
    if (stores.length !== 1) ctx.addIssue({ code: 'custom', path: ['inputs'], message: 'must hold exactly one memory_store entry' });
    if (sessions.length !== 1) ctx.addIssue({ code: 'custom', path: ['inputs'], message: 'must hold exactly one sessions entry' });
    const behavior = params.output_behavior;
    if (behavior?.type === 'update_existing' && stores.length === 1 && behavior.memory_store_id !== stores[0]!.memory_store_id) {
      ctx.addIssue({ code: 'custom', path: ['output_behavior', 'memory_store_id'], message: 'must be the memory store in inputs' });
    }
  });
export type DreamCreateParams = z.infer<typeof DreamCreateParams>;

export const DreamUsage = z.object({
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cache_creation_input_tokens: z.number().int(),
  cache_read_input_tokens: z.number().int(),
});
export type DreamUsage = z.infer<typeof DreamUsage>;

/** `BetaDream`. */
export const Dream = z.object({
  type: z.literal('dream'),
  id: z.string(),
  status: DreamStatus,
  inputs: z.array(DreamInput),
  model: z.object({ id: z.string(), speed: z.enum(['standard', 'fast']) }),
  instructions: z.string().nullable(),
  output_behavior: OutputBehavior,
  outputs: z.array(z.object({ type: z.literal('memory_store'), memory_store_id: z.string() })),
  session_id: z.string().nullable(),
  error: z.object({ type: z.string(), message: z.string() }).nullable(),
  usage: DreamUsage,
  created_at: Timestamp,
  ended_at: Timestamp.nullable(),
  archived_at: Timestamp.nullable(),
});
export type Dream = z.infer<typeof Dream>;

export const DreamListQuery = PageQuery.extend({
  'created_at[gt]': QueryTimestamp.optional(),
  'created_at[lt]': QueryTimestamp.optional(),
  include_archived: QueryBoolean.optional(),
  // The SDK repeats `statuses[]=`; one value or several.
  statuses: z.union([DreamStatus, z.array(DreamStatus)]).optional(),
  'statuses[]': z.union([DreamStatus, z.array(DreamStatus)]).optional(),
});

/** Longhaul extension: `POST /v1/memory_stores/{id}/dream_schedule`, a dream on a cron. */
export const DreamScheduleParams = z.object({
  schedule: CronScheduleParams,
  model: ModelParam,
  instructions: z.string().min(1).max(4096).nullish(),
  output_behavior: z.object({ type: z.enum(['create_new', 'update_existing']) }).optional(),
});
export type DreamScheduleParams = z.infer<typeof DreamScheduleParams>;

export const DreamSchedule = z.object({
  type: z.literal('dream_schedule'),
  memory_store_id: z.string(),
  schedule: CronSchedule,
  model: z.object({ id: z.string(), speed: z.enum(['standard', 'fast']) }),
  instructions: z.string().nullable(),
  output_behavior: OutputBehavior,
});
export type DreamSchedule = z.infer<typeof DreamSchedule>;
