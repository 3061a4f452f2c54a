import { z } from 'zod';
import { cronProblem, isIanaTimezone } from '../deployments/cron-expression.ts';
import { AgentReference } from './api-agent.ts';
import { Metadata, MetadataPatch, PageQuery, QueryBoolean, CreatedAtQuery, Timestamp } from './api-common.ts';
import { SessionResourceParams } from './api-file.ts';
import { MemoryAccess } from './api-memory.ts';
import { BudgetLimit, SessionAgentParam } from './api-session.ts';
import { SystemMessageEventParams, UserDefineOutcomeEventParams, UserMessageEventParams } from './events.ts';

/** Deployments (`client.beta.deployments`) and their runs (`client.beta.deploymentRuns`). */

/** `BetaManagedAgentsScheduleParams`: five-field POSIX cron in an IANA timezone. */
export const CronScheduleParams = z
  .object({
    type: z.literal('cron'),
    expression: z.string().min(1).max(256),
    timezone: z.string().min(1).max(64),
  })
  .superRefine((schedule, ctx) => {
    const problem = cronProblem(schedule.expression);
    if (problem) ctx.addIssue({ code: 'custom', path: ['expression'], message: problem });
    if (!isIanaTimezone(schedule.timezone)) {
      ctx.addIssue({ code: 'custom', path: ['timezone'], message: `"${schedule.timezone}" is not an IANA timezone such as "Europe/Berlin" or "UTC"` });
    }
  });
export type CronScheduleParams = z.infer<typeof CronScheduleParams>;

export const CronSchedule = z.object({
  type: z.literal('cron'),
  expression: z.string(),
  timezone: z.string(),
  /** The next (at most 5) times the Schedule will fire; empty while paused. */
  upcoming_runs_at: z.array(Timestamp),
  last_run_at: Timestamp.nullable(),
});
export type CronSchedule = z.infer<typeof CronSchedule>;

const InitialEventParams = z.discriminatedUnion('type', [UserMessageEventParams, UserDefineOutcomeEventParams, SystemMessageEventParams]);
export type DeploymentInitialEvent = z.infer<typeof InitialEventParams>;

/** 1–50 events each run's session starts with; a `system.message` rides right after a `user.message`. */
const InitialEvents = z
  .array(InitialEventParams)
  .min(1, 'initial_events must hold at least one event')
  .max(50)
  .superRefine((events, ctx) => {
    events.forEach((event, index) => {
      if (event.type === 'system.message' && events[index - 1]?.type !== 'user.message') {
        ctx.addIssue({ code: 'custom', path: [index, 'type'], message: 'system.message must directly follow a user.message' });
      }
    });
  });

const VaultIds = z.array(z.string().min(1)).max(50).meta({ uniqueItems: true }).refine((ids) => new Set(ids).size === ids.length, 'vault_ids must not repeat');
const Resources = z.array(SessionResourceParams).max(100);

export const DeploymentCreateParams = z.object({
  name: z.string().min(1).max(256),
  description: z.string().max(2048).nullish(),
  agent: SessionAgentParam.refine((agent) => typeof agent === 'string' || agent.type === 'agent', 'agent_with_overrides is not allowed on a deployment; pin an agent version'),
  environment_id: z.string().min(1),
  initial_events: InitialEvents,
  schedule: CronScheduleParams.nullish(),
  resources: Resources.optional(),
  vault_ids: VaultIds.optional(),
  budget: BudgetLimit.nullish(),
  metadata: Metadata.optional(),
});
export type DeploymentCreateParams = z.infer<typeof DeploymentCreateParams>;

/** Lists are replaced, metadata is patched, `schedule: null` leaves the deployment manual-only. */
export const DeploymentUpdateParams = z.object({
  name: z.string().min(1).max(256).optional(),
  description: z.string().max(2048).nullish(),
  agent: DeploymentCreateParams.shape.agent.optional(),
  environment_id: z.string().min(1).optional(),
  initial_events: InitialEvents.optional(),
  schedule: CronScheduleParams.nullish(),
  resources: Resources.nullish(),
  vault_ids: VaultIds.nullish(),
  budget: BudgetLimit.nullish(),
  metadata: MetadataPatch.nullish(),
});
export type DeploymentUpdateParams = z.infer<typeof DeploymentUpdateParams>;

/** What a run can fail on before its session exists; the SDK's run error types. */
export const RunErrorType = z.enum([
  'environment_archived_error',
  'agent_archived_error',
  'environment_not_found_error',
  'vault_not_found_error',
  'vault_archived_error',
  'file_not_found_error',
  'memory_store_archived_error',
  'skill_not_found_error',
  'session_resource_not_found_error',
  'workspace_archived_error',
  'organization_disabled_error',
  'session_rate_limited_error',
  'session_creation_rejected_error',
  'unknown_error',
  'self_hosted_resources_unsupported_error',
  'mcp_egress_blocked_error',
]);
export type RunErrorType = z.infer<typeof RunErrorType>;

/** The errors a deployment may be paused on: the run errors, less the passing ones (rate limits, a refused creation). */
export const PausedReasonErrorType = RunErrorType.exclude(['session_rate_limited_error', 'session_creation_rejected_error']);
export type PausedReasonErrorType = z.infer<typeof PausedReasonErrorType>;

/**
 * Run errors that will fail every later run the same way until someone acts: they
 * pause the deployment (`paused_reason: {type: 'error'}`). The others may pass on
 * their own, so the schedule keeps going.
 */
export const PAUSING_RUN_ERRORS: ReadonlySet<RunErrorType> = new Set<PausedReasonErrorType>([
  'environment_archived_error',
  'agent_archived_error',
  'environment_not_found_error',
  'vault_not_found_error',
  'vault_archived_error',
  'file_not_found_error',
  'memory_store_archived_error',
  'skill_not_found_error',
  'session_resource_not_found_error',
]);

export const PausedReason = z.discriminatedUnion('type', [
  z.object({ type: z.literal('manual') }),
  z.object({ type: z.literal('error'), error: z.object({ type: PausedReasonErrorType }) }),
]);
export type PausedReason = z.infer<typeof PausedReason>;

/** `BetaManagedAgentsFileResourceConfig`: a file each run's session mounts. */
export const DeploymentResource = z.discriminatedUnion('type', [
  z.object({ type: z.literal('file'), file_id: z.string(), mount_path: z.string().nullable() }),
  z.object({ type: z.literal('memory_store'), memory_store_id: z.string(), access: MemoryAccess, instructions: z.string().nullable() }),
]);
export type DeploymentResource = z.infer<typeof DeploymentResource>;

export const DeploymentStatus = z.enum(['active', 'paused']);
export type DeploymentStatus = z.infer<typeof DeploymentStatus>;

/** `BetaManagedAgentsDeployment`. */
export const Deployment = z.object({
    id: z.string(),
    type: z.literal('deployment'),
    name: z.string(),
    description: z.string().nullable(),
    agent: AgentReference,
    environment_id: z.string(),
    initial_events: z.array(InitialEventParams),
    schedule: CronSchedule.nullable(),
    resources: z.array(DeploymentResource),
    vault_ids: z.array(z.string()),
    budget: BudgetLimit.nullable(),
    metadata: Metadata,
    status: DeploymentStatus,
    paused_reason: PausedReason.nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    archived_at: Timestamp.nullable(),
  });
export type Deployment = z.infer<typeof Deployment>;

/** A deployment as stored: its schedule without what the Temporal Schedule knows (next and last runs). */
export type StoredDeployment = Omit<Deployment, 'schedule'> & { schedule: CronScheduleParams | null };

export const TriggerContext = z.discriminatedUnion('type', [
  z.object({ type: z.literal('schedule'), scheduled_at: Timestamp }),
  z.object({ type: z.literal('manual') }),
]);
export type TriggerContext = z.infer<typeof TriggerContext>;

export const RunError = z.object({ type: RunErrorType, message: z.string() });
export type RunError = z.infer<typeof RunError>;

/** `BetaManagedAgentsDeploymentRun`: one start of a deployment, with its session or the error that kept it from starting. */
export const DeploymentRun = z.object({
    id: z.string(),
    type: z.literal('deployment_run'),
    deployment_id: z.string(),
    agent: AgentReference,
    session_id: z.string().nullable(),
    error: RunError.nullable(),
    trigger_context: TriggerContext,
    created_at: Timestamp,
  });
export type DeploymentRun = z.infer<typeof DeploymentRun>;

export const DeploymentListQuery = PageQuery.extend({
  agent_id: z.string().optional(),
  status: DeploymentStatus.optional(),
  include_archived: QueryBoolean.optional(),
  ...CreatedAtQuery,
});

export const DeploymentRunListQuery = PageQuery.extend({
  deployment_id: z.string().optional(),
  trigger_type: z.enum(['schedule', 'manual']).optional(),
  has_error: QueryBoolean.optional(),
  ...CreatedAtQuery,
});
