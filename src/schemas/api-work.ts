import { z } from 'zod';
import { MetadataPatch, Timestamp } from './api-common.ts';

/**
 * The work queue of a self-hosted environment (`client.beta.environments.work`): a session
 * whose environment is `self_hosted` puts a work item on it, a worker of the user's polls
 * for it, holds it by heartbeating a lease, and answers the session's tool calls.
 */

export const WORK_STATES = ['queued', 'starting', 'active', 'stopping', 'stopped'] as const;
export const WorkState = z.enum(WORK_STATES);
export type WorkState = z.infer<typeof WorkState>;

/** `BetaSelfHostedWork`. */
export const Work = z.object({
  type: z.literal('work'),
  id: z.string(),
  environment_id: z.string(),
  state: WorkState,
  data: z.discriminatedUnion('type', [z.object({ type: z.literal('session'), id: z.string() }), z.object({ type: z.literal('healthcheck'), id: z.string() })]),
  metadata: z.record(z.string(), z.string()),
  /** Only in a poll's answer: base64url JSON `{"sessions_token": …}`, the item's own credential. */
  secret: z.string().nullable(),
  created_at: Timestamp,
  acknowledged_at: Timestamp.nullable(),
  started_at: Timestamp.nullable(),
  latest_heartbeat_at: Timestamp.nullable(),
  stop_requested_at: Timestamp.nullable(),
  stopped_at: Timestamp.nullable(),
});
export type Work = z.infer<typeof Work>;

/** `BetaSelfHostedWorkHeartbeatResponse`. */
export const WorkHeartbeatResponse = z.object({
  type: z.literal('work_heartbeat'),
  /** The stored heartbeat, echoed by the next beat as `expected_last_heartbeat`; "" before the first. */
  last_heartbeat: z.string(),
  lease_extended: z.boolean(),
  state: WorkState,
  ttl_seconds: z.number().int(),
});
export type WorkHeartbeatResponse = z.infer<typeof WorkHeartbeatResponse>;

/** `BetaWorkLeaseState`: the lease as the server holds it (the details of a 412). */
export type WorkLeaseState = { last_heartbeat: string | null; lease_extended: false; state: WorkState; ttl_seconds: number };

/** `BetaSelfHostedWorkQueueStats`. */
export const WorkQueueStats = z.object({
  type: z.literal('work_queue_stats'),
  depth: z.number().int(),
  pending: z.number().int(),
  oldest_queued_at: Timestamp.nullable(),
  workers_polling: z.number().int().nullable(),
});
export type WorkQueueStats = z.infer<typeof WorkQueueStats>;

/** Query of `GET …/work/poll`. */
export const WorkPollQuery = z.object({
  /** Long-poll: wait up to this long for an item. Omitted: answer at once. */
  block_ms: z.coerce.number().int().min(1).max(999).optional(),
  /** An item polled but not acknowledged for this long is handed out again. Default 5000. */
  reclaim_older_than_ms: z.coerce.number().int().min(0).max(86_400_000).optional(),
});

/** The first heartbeat of a lease names no previous one. */
export const NO_HEARTBEAT = 'NO_HEARTBEAT';

/** Query of `POST …/work/{work_id}/heartbeat` (the SDK sends these in the query, not the body). */
export const WorkHeartbeatQuery = z.object({
  desired_ttl_seconds: z.coerce.number().int().min(1).max(3600).optional(),
  expected_last_heartbeat: z.string().max(64).optional(),
});

/** Body of `POST …/work/{work_id}/stop`. */
export const WorkStopParams = z.object({ force: z.boolean().nullish() });

/** Body of `POST …/work/{work_id}`. */
export const WorkUpdateParams = z.object({ metadata: MetadataPatch });
