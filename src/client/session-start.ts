import { DEFAULT_OUTCOME_ITERATIONS } from '../core/outcomes.ts';
import { AgentDefinition, type AgentDefinitionInput } from '../schemas/agent.ts';
import { spendLimitOf } from '../core/budget.ts';
import { BudgetLimit as BudgetLimitSchema, type SessionAgent } from '../schemas/api-session.ts';
import { EnvironmentDefinition, type EnvironmentDefinitionInput } from '../schemas/environment.ts';
import type { UserEventParams } from '../schemas/events.ts';
import { newId } from '../store/ids.ts';
import type { SessionRecord } from '../store/session-records.ts';
import { primaryThreadIdOf } from './session-threads.ts';
import type { BudgetLimit, FileMount, InboundUserEvent, SessionTuning, SessionWorkflowInput } from '../../workflows/contract.ts';

export type CreateSessionOptions = {
  agent: AgentDefinitionInput;
  environment?: EnvironmentDefinitionInput;
  /** Events to start with, usually the first `user.message`. */
  events?: readonly UserEventParams[];
  /** Session id; a new `sesn_…` when omitted. */
  id?: string;
  /** Vaults whose credentials the session's MCP calls and sandbox egress may use. */
  vaultIds?: string[];
  /** Most the session may spend at list prices (USD cents); it idles with `budget_reached` there. */
  budget?: BudgetLimit | null;
  /** Uploaded files a worker copies into the sandbox before the first model call (validated paths). */
  mounts?: FileMount[];
  tuning?: SessionTuning;
  /** What an API client named: the agent version (overrides applied) and the environment (and the deployment whose run it is). Library sessions have none. */
  named?: { agent: SessionAgent; environmentId: string; deploymentId?: string | undefined };
  title?: string | null;
  metadata?: Record<string, string>;
};

/** A session about to start: the record to write, and its workflow's input. */
export type SessionStart = {
  record: SessionRecord;
  /** Its `initialEvents` still hold large content inline: store it (`externalizeLargeContent`) before starting. */
  input: SessionWorkflowInput;
};

/**
 * What starting a session writes and runs, from what `sessions.create` was given: the
 * agent and environment parsed (a `ZodError` names a bad field), defaults filled in.
 * Writes nothing; the id is the given one or a new `sesn_…`.
 */
export function sessionStartOf(options: CreateSessionOptions, { storeId }: { storeId: string }): SessionStart {
  const { events = [], id = newId('sesn'), vaultIds = [], mounts = [], tuning, named } = options;
  const budget = options.budget ? BudgetLimitSchema.parse(options.budget) : null;
  const agent = AgentDefinition.parse(options.agent);
  const environment = EnvironmentDefinition.parse(options.environment ?? {});
  const now = new Date().toISOString();
  const record: SessionRecord = {
    id,
    definition: { agent, environment },
    ...(named ? { agent: named.agent, environment_id: named.environmentId } : {}),
    ...(named?.deploymentId ? { deployment_id: named.deploymentId } : {}),
    title: options.title ?? null,
    metadata: options.metadata ?? {},
    vault_ids: vaultIds,
    budget,
    created_at: now,
    updated_at: now,
    archived_at: null,
  };
  const input: SessionWorkflowInput = {
    sessionId: id,
    storeId,
    agent,
    environment,
    initialEvents: events.map(inboundUserEvent),
    tuning,
    ...(vaultIds.length > 0 ? { vaultIds } : {}),
    ...(budget ? { budget: spendLimitOf(budget) } : {}),
    ...(mounts.length > 0 ? { mounts } : {}),
    ...(agent.roster?.length ? { primaryThreadId: primaryThreadIdOf(id) } : {}),
  };
  return { record, input };
}

/** The event as the session takes it: an outcome gets its `outc_` id (and its iteration limit) here, so the echo can name it. */
export function inboundUserEvent(event: UserEventParams): InboundUserEvent {
  if (event.type !== 'user.define_outcome') return event;
  return { ...event, max_iterations: event.max_iterations ?? DEFAULT_OUTCOME_ITERATIONS, outcome_id: newId('outc') };
}
