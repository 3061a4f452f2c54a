import { z } from 'zod';
import { Timestamp } from './api-common.ts';
import { SessionUsage } from './api-session.ts';

export const SessionThreadStatus = z.enum(['running', 'idle', 'rescheduling', 'terminated']);

/** `BetaManagedAgentsSessionThread`: the primary thread (the session itself) or one the session started. */
export const SessionThread = z.object({
  type: z.literal('session_thread'),
  id: z.string(),
  session_id: z.string(),
  parent_thread_id: z.string().nullable(),
  /** The agent the thread runs, as the session pinned it (`SessionThreadAgent`). */
  agent: z.object({ type: z.literal('agent'), id: z.string().optional(), version: z.number().int().optional(), name: z.string() }).loose(),
  status: SessionThreadStatus,
  stats: z.object({ active_seconds: z.number(), duration_seconds: z.number(), startup_seconds: z.number() }).nullable(),
  usage: SessionUsage.nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
  workflow_run_id: z.null(),
});
export type SessionThread = z.infer<typeof SessionThread>;
