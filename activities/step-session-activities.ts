import { ApplicationFailure, Context } from '@temporalio/activity';
import { ZodError } from 'zod';
import { formatZodError } from '../src/api/format-zod-error.ts';
import { sessionStartOf } from '../src/client/session-start.ts';
import { NotFoundError } from '../src/errors.ts';
import type { AgentDefinitionInput } from '../src/schemas/agent.ts';
import type { EnvironmentDefinitionInput } from '../src/schemas/environment.ts';
import { externalizeLargeContent } from '../src/store/content-refs.ts';
import { deterministicId } from '../src/store/ids.ts';
import type { SessionStore } from '../src/store/session-store.ts';
import { STEP_SESSION_INVALID, type BudgetLimit, type SessionTuning, type SessionWorkflowInput } from '../workflows/contract.ts';

/** A session to run as a step of a workflow (`runAgentSession`): what `Longhaul.sessions.create` takes, with the task as its first message. */
export type StepSessionParams = {
  agent: AgentDefinitionInput;
  /** Default: a cloud environment with default settings. */
  environment?: EnvironmentDefinitionInput;
  /** What the agent is asked to do: the session's first `user.message`. */
  task: string;
  title?: string | null;
  metadata?: Record<string, string>;
  /** Most the session may spend at list prices; the step then ends with `budget_reached`. */
  budget?: BudgetLimit | null;
  vaultIds?: string[];
  tuning?: SessionTuning;
};

/**
 * The activity behind `runAgentSession`: writes the step's session record (so the API and
 * `Longhaul` see it like any other session) and returns its workflow's input.
 */
export function createStepSessionActivities({ store }: { store: SessionStore }) {
  return {
    async createStepSession({ task, ...options }: StepSessionParams): Promise<SessionWorkflowInput> {
      const { workflowExecution, activityId } = Context.current().info;
      if (workflowExecution === undefined) throw ApplicationFailure.nonRetryable('createStepSession runs as a step of a workflow only', STEP_SESSION_INVALID);
      // The same id on every attempt of this call: a retry finds the record an earlier attempt wrote.
      const id = deterministicId('sesn', workflowExecution.workflowId, workflowExecution.runId, activityId);
      let start;
      try {
        start = sessionStartOf({ ...options, id, events: [{ type: 'user.message', content: [{ type: 'text', text: task }] }] }, { storeId: store.storeId });
      } catch (error) {
        if (error instanceof ZodError) throw ApplicationFailure.nonRetryable(`the step's session is invalid: ${formatZodError(error, undefined)}`, STEP_SESSION_INVALID);
        throw error;
      }
      if (!(await hasRecord(store, id))) await store.sessions.create(start.record);
      // Large content waits in the store; the workflow's input carries references.
      const initialEvents = await externalizeLargeContent(store, id, start.input.initialEvents ?? []);
      return { ...start.input, initialEvents, endAfterTurn: true };
    },
  };
}

export type StepSessionActivities = ReturnType<typeof createStepSessionActivities>;

async function hasRecord(store: SessionStore, id: string): Promise<boolean> {
  return store.sessions.retrieve(id).then(
    () => true,
    (error: unknown) => {
      if (error instanceof NotFoundError) return false;
      throw error;
    },
  );
}
