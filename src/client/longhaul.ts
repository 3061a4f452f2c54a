import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { isDeepStrictEqual } from 'node:util';
import { parseCents, spendLimitOf } from '../core/budget.ts';
import { zeroUsage } from '../core/usage.ts';
import { z } from 'zod';
import type { AgentDefinition } from '../schemas/agent.ts';
import { agentDefinitionOf, agentSpecProblem, checkToolReferences, resolveTools } from '../schemas/api-agent.ts';
import { SessionAgentUpdate, type SessionAgent, type SessionStatus, type SessionUpdateParams } from '../schemas/api-session.ts';
import type { SessionEvent, UserEventParams } from '../schemas/events.ts';
import { externalizeLargeContent } from '../store/content-refs.ts';
import { newId } from '../store/ids.ts';
import { ConflictError } from '../store/conflict-error.ts';
import type { Page } from '../store/page-cursor.ts';
import type { ApiSessionRecord, ListSessionsOptions, SessionRecord } from '../store/session-records.ts';
import { eventIdOfKey, type SessionStore } from '../store/session-store.ts';
import { apiUsage, sessionStateOf, sessionStatusOf, usageOf, type SessionState } from './session-state.ts';
import { childThreadView, primaryThreadIdOf, primaryThreadView, type ThreadView } from './session-threads.ts';
import type { sessionCleanupWorkflow, sessionWorkflow } from '../../workflows/index.ts';
import {
  DEFAULT_TASK_QUEUE,
  mountFilesSignal,
  workReleasedSignal,
  SESSION_CLEANUP_WORKFLOW,
  SESSION_WORKFLOW,
  settingsSignal,
  terminateSignal,
  userEventsSignal,
} from '../../workflows/contract.ts';
import type { BudgetLimit, FileMount, InboundUserEvent, SessionRemoval } from '../../workflows/contract.ts';
import { inboundUserEvent, sessionStartOf, type CreateSessionOptions } from './session-start.ts';

export type { CreateSessionOptions };
import { InvalidRequestError, NotFoundError } from '../errors.ts';

/** A session: its record, and its status and usage as its event log tells them. */
export type SessionView = SessionRecord & SessionState;

/** A user event as sent: its log id is known before the session takes it. */
export type SentUserEvent = InboundUserEvent & { id: string; processed_at: string | null };

export type ListEventsOptions = {
  /** Return events after this event id. */
  after?: string | undefined;
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
  types?: string[] | undefined;
};

/**
 * The library client: starts sessions on Temporal, sends them events and reads
 * their event log.
 *
 * @example
 * const longhaul = new Longhaul({ client, store });
 * const session = await longhaul.sessions.create({ agent: { model: 'claude-sonnet-4-5', tools: [{ type: 'agent_toolset_20260401' }] } });
 * await longhaul.events.send(session.id, [{ type: 'user.message', content: [{ type: 'text', text: 'Hello' }] }]);
 * for await (const event of longhaul.events.stream(session.id)) console.log(event.type);
 */
export class Longhaul {
  readonly #client: Client;
  readonly #store: SessionStore;
  readonly #taskQueue: string;

  constructor({ client, store, taskQueue = DEFAULT_TASK_QUEUE }: { client: Client; store: SessionStore; taskQueue?: string }) {
    this.#client = client;
    this.#store = store;
    this.#taskQueue = taskQueue;
  }

  readonly sessions = {
    /**
     * Writes the session's record and starts its workflow; a workflow that cannot be
     * started leaves no record behind.
     */
    create: async (options: CreateSessionOptions): Promise<SessionView> => {
      const { record, input } = sessionStartOf(options, { storeId: this.#store.storeId });
      const taken = input.initialEvents ?? [];
      await this.#store.sessions.create(record);
      try {
        // Large content waits in the store; the workflow's input carries references.
        const initialEvents = await externalizeLargeContent(this.#store, record.id, taken);
        await this.#client.workflow.start<typeof sessionWorkflow>(SESSION_WORKFLOW, {
          taskQueue: this.#taskQueue,
          workflowId: record.id,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          args: [{ ...input, initialEvents }],
        });
      } catch (error) {
        await this.#store.sessions.remove(record.id);
        throw error;
      }
      const outcomes = taken.flatMap((e) => (e.type === 'user.define_outcome' ? [e] : []));
      return {
        ...record,
        status: taken.length > 0 ? 'running' : 'idle',
        usage: { ...apiUsage(zeroUsage(), null), active_seconds: 0 },
        outcome_evaluations: outcomes.map((o) => ({ type: 'outcome_evaluation', outcome_id: o.outcome_id, description: o.description, iteration: 0, result: 'pending', explanation: null, completed_at: null })),
      };
    },

    /** The session's record (not deleted), without reading its log. */
    record: async (sessionId: string): Promise<SessionRecord> => this.#store.sessions.retrieve(sessionId),

    retrieve: async (sessionId: string): Promise<SessionView> => this.#view(await this.#store.sessions.retrieve(sessionId)),

    /** Sessions API clients created, newest first unless `order` says otherwise. */
    list: async (options: ListSessionsOptions): Promise<Page<SessionView & ApiSessionRecord>> => {
      const page = await this.#store.sessions.listApiSessions(options);
      // The records are API sessions; their view adds only status, usage and outcomes.
      return { ...page, data: await Promise.all(page.data.map(async (record) => (await this.#view(record)) as SessionView & ApiSessionRecord)) };
    },

    /**
     * Changes title, metadata, budget or vaults. A live session takes a new budget or new
     * vaults at once; raising the budget of a session stopped at it resumes its turn.
     */
    update: async (sessionId: string, params: SessionUpdateParams): Promise<SessionView> => {
      const before = await this.#store.sessions.retrieve(sessionId);
      const agent = params.agent ? await this.#updatedAgent(before, params.agent) : undefined;
      if (params.budget) await this.#checkBudgetRaise(before, params.budget);
      const record = await this.#store.sessions.update(sessionId, params, agent);
      await this.#recordUpdate(before, record, params);
      if ((params.budget !== undefined || params.vault_ids !== undefined || agent) && record.archived_at === null) {
        const running = await this.#client.workflow
          .getHandle(sessionId)
          .signal(settingsSignal, {
            ...(agent ? { agent: agent.definition } : {}),
            ...(params.budget !== undefined ? { budget: spendLimitOf(params.budget) } : {}),
            ...(params.vault_ids !== undefined ? { vaultIds: params.vault_ids } : {}),
          })
          .then(
            () => true,
            (error: unknown) => {
              // A terminated session's workflow is over: the new settings are kept, and nothing runs again to take them.
              if (!(error instanceof WorkflowNotFoundError)) throw error;
              return false;
            },
          );
        if (running && params.budget !== undefined && (await this.#stoppedAtBudget(sessionId))) {
          await this.#store.sessions.markTurnRequested(sessionId, await this.#store.lastSeq(sessionId));
        }
      }
      return this.sessions.retrieve(sessionId);
    },

    /** Archives the session: it never runs again; its log stays readable, its sandbox and files go. */
    archive: async (sessionId: string): Promise<SessionView> => {
      const current = await this.sessions.retrieve(sessionId);
      if (current.archived_at === null) {
        this.#refuseWhileWorking(current, 'archive');
        await this.#endWorkflow(sessionId, { workspace: true });
      }
      return this.#view(await this.#store.sessions.archive(sessionId));
    },

    /**
     * Deletes the session: at once it is gone for retrieve and list; its container, disk,
     * host folder and every row go as its workflow ends (any worker, retried until done).
     */
    delete: async (sessionId: string): Promise<void> => {
      this.#refuseWhileWorking(await this.sessions.retrieve(sessionId), 'delete');
      await this.#endWorkflow(sessionId, { workspace: true, records: true });
      await this.#store.sessions.markDeleted(sessionId);
    },

    /** Has a worker copy uploaded files into the session's sandbox before its next model call (at once when idle). */
    mountFiles: async (sessionId: string, mounts: FileMount[]): Promise<void> => {
      await this.#client.workflow.getHandle(sessionId).signal(mountFilesSignal, mounts);
    },

    /**
     * Tells the session, and each of its threads (they wait on the same item), that its
     * self-hosted work item was stopped. One that ended already has nothing to hear.
     */
    workReleased: async (sessionId: string): Promise<void> => {
      const threads = await this.#store.threads.list(sessionId);
      for (const workflowId of [sessionId, ...threads.filter((t) => t.archivedAt === null).map((t) => t.id)]) {
        try {
          await this.#client.workflow.getHandle(workflowId).signal(workReleasedSignal);
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        }
      }
    },

    /**
     * Ends the session: it records `session.status_terminated` and releases its sandbox.
     * `removal` also removes its workspace (archive) or everything it left (delete); for a
     * session that had already ended, a cleanup workflow does that instead. Either way any
     * worker does it, retried until done, so a worker that is down only delays it.
     */
    terminate: async (sessionId: string, removal: SessionRemoval = {}): Promise<void> => {
      const removing = removal.workspace === true || removal.records === true;
      try {
        await this.#client.workflow.getHandle(sessionId).signal(terminateSignal, removal);
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError) || !removing) throw error;
        await this.#client.workflow
          .start<typeof sessionCleanupWorkflow>(SESSION_CLEANUP_WORKFLOW, {
            taskQueue: this.#taskQueue,
            workflowId: `${sessionId}:cleanup`,
            args: [{ sessionId, records: removal.records === true }],
          })
          .catch((startError: unknown) => {
            // A cleanup already running does the same work.
            if (!(startError instanceof WorkflowExecutionAlreadyStartedError)) throw startError;
          });
      }
    },
  };

  readonly events = {
    /**
     * Sends user events (validated) to the session and returns them as they will
     * appear in its log: with their ids, `processed_at` null until the agent takes them.
     */
    send: async (sessionId: string, events: readonly UserEventParams[]): Promise<SentUserEvent[]> => {
      const record = await this.#store.sessions.retrieve(sessionId);
      const status = await this.#statusOf(record);
      if (record.archived_at !== null || status === 'terminated') throw new InvalidRequestError(`session ${sessionId} is terminated and takes no more events`);
      const threads = await threadsAddressed(this.#store, sessionId, events, record.definition.environment.self_hosted !== undefined);
      // An idle session given work counts as running until it records a status of its own.
      const givesWork = events.some((e, i) => threads[i] === undefined && (e.type === 'user.message' || e.type === 'user.define_outcome' || e.type === 'user.tool_confirmation' || e.type === 'user.custom_tool_result'));
      const logEnd = givesWork && status === 'idle' ? await this.#store.lastSeq(sessionId) : undefined;
      const keyed = events.map((event) => ({ ...inboundUserEvent(event), key: `user:${newId('in')}` }));
      // Each event goes to the workflow of the thread it is for (a thread's answers and interrupts), the rest to the session's.
      const targets = new Map<string, InboundUserEvent[]>();
      keyed.forEach((event, i) => targets.set(threads[i] ?? sessionId, [...(targets.get(threads[i] ?? sessionId) ?? []), event]));
      for (const [workflowId, batch] of targets) {
        // Large content waits in the store (written before the signal, so the workflow's
        // reference always resolves); the signal stays far below Temporal's payload limit.
        await this.#client.workflow.getHandle(workflowId).signal(userEventsSignal, await externalizeLargeContent(this.#store, workflowId, batch));
      }
      if (logEnd !== undefined) await this.#store.sessions.markTurnRequested(sessionId, logEnd);
      return keyed.map(({ key, ...event }, i) => {
        const thread = threads[i];
        // A thread's answer is recorded in the thread's log, under the thread's id.
        return { ...event, ...(thread && event.type !== 'user.interrupt' ? { session_thread_id: thread } : {}), id: eventIdOfKey(thread ?? sessionId, key), processed_at: null };
      });
    },

    list: async (sessionId: string, { after, limit = 100, order = 'asc', types }: ListEventsOptions = {}): Promise<SessionEvent[]> => {
      const afterSeq = after === undefined ? 0 : await this.#seqOf(sessionId, after);
      const rows = await this.#store.listEvents(sessionId, order === 'asc' ? { afterSeq, limit, order, types } : { limit, order, types });
      return rows.map((row) => row.event);
    },

    /**
     * The session's events from the start (or after event id `after`), then
     * live as they happen, until `signal` aborts or the loop breaks.
     */
    stream: (sessionId: string, { after, signal }: { after?: string; signal?: AbortSignal } = {}): AsyncIterable<SessionEvent> => {
      const store = this.#store;
      const seqOf = (id: string) => this.#seqOf(sessionId, id);
      return {
        async *[Symbol.asyncIterator]() {
          const afterSeq = after === undefined ? 0 : await seqOf(after);
          for await (const row of store.tail(sessionId, { afterSeq, ...(signal ? { signal } : {}) })) yield row.event;
        },
      };
    },
  };

  /**
   * The session's threads: the primary (the session itself) and each thread a
   * multi-agent session started, every one with its own event log.
   */
  readonly threads = {
    /** The primary first, then the session's threads in the order they started. */
    list: async (sessionId: string, { statuses }: { statuses?: readonly ThreadView['status'][] | undefined } = {}): Promise<ThreadView[]> => {
      const record = await this.#store.sessions.retrieve(sessionId);
      const stored = await this.#store.threads.list(sessionId);
      const views = [await primaryThreadView(this.#store, record), ...(await Promise.all(stored.map((thread) => childThreadView(this.#store, record, thread))))];
      return statuses?.length ? views.filter((view) => statuses.includes(view.status)) : views;
    },

    retrieve: async (sessionId: string, threadId: string): Promise<ThreadView> => {
      const record = await this.#store.sessions.retrieve(sessionId);
      if (threadId === primaryThreadIdOf(sessionId)) return primaryThreadView(this.#store, record);
      return childThreadView(this.#store, record, await this.#thread(sessionId, threadId));
    },

    /** Ends a thread the session started (its workflow records its termination) and marks it archived. */
    archive: async (sessionId: string, threadId: string): Promise<ThreadView> => {
      if (threadId === primaryThreadIdOf(sessionId)) throw new InvalidRequestError(`thread ${threadId} is the session's primary thread: archive the session instead`);
      const thread = await this.#thread(sessionId, threadId);
      if (thread.archivedAt === null) {
        await this.#client.workflow
          .getHandle(threadId)
          .signal(terminateSignal)
          .catch((error: unknown) => {
            // A thread whose workflow is over (its session ended) has nothing left to stop.
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          });
        await this.#store.threads.archive(sessionId, threadId);
      }
      return this.threads.retrieve(sessionId, threadId);
    },

    /** The log a thread's events are in: the session's for the primary, the thread's own otherwise. */
    logOf: async (sessionId: string, threadId: string): Promise<{ logId: string; primary: boolean }> => {
      await this.#store.sessions.retrieve(sessionId);
      if (threadId === primaryThreadIdOf(sessionId)) return { logId: sessionId, primary: true };
      return { logId: (await this.#thread(sessionId, threadId)).id, primary: false };
    },
  };

  async #thread(sessionId: string, threadId: string) {
    const thread = await this.#store.threads.get(sessionId, threadId);
    if (thread === undefined) throw new NotFoundError(`thread ${threadId} not found in session ${sessionId}`);
    return thread;
  }

  /** Stops what the agent is doing; the session goes idle and takes the next message. */
  async interrupt(sessionId: string): Promise<SentUserEvent[]> {
    return this.events.send(sessionId, [{ type: 'user.interrupt' }]);
  }

  async #view(record: SessionRecord): Promise<SessionView> {
    return { ...record, ...(await this.#stateOf(record)) };
  }

  #stateOf(record: SessionRecord): Promise<SessionState> {
    return sessionStateOf(this.#store, record.id, { turnRequestedAfterSeq: record.turn_requested_after_seq });
  }

  /** The status alone, for a call that needs nothing else of the state (`events.send` is on every turn's path). */
  #statusOf(record: SessionRecord): Promise<SessionStatus> {
    return sessionStatusOf(this.#store, record.id, { turnRequestedAfterSeq: record.turn_requested_after_seq });
  }

  #refuseWhileWorking(session: SessionView, action: 'archive' | 'delete'): void {
    if (session.status === 'running' || session.status === 'rescheduling') {
      throw new ConflictError(`session ${session.id} is ${session.status}: interrupt it or wait for it to go idle, then ${action} it`);
    }
  }

  /** Ends the session's workflow with `removal` (one already gone is fine: a cleanup workflow removes instead). */
  async #endWorkflow(sessionId: string, removal: SessionRemoval): Promise<void> {
    await this.sessions.terminate(sessionId, removal).catch((error: unknown) => {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    });
  }

  /**
   * A budget is set when the session is created, then replaced or removed, never added
   * later; a new one must stay above what the session has spent (as its usage shows it),
   * so a session stopped at its budget always goes on when given a new one.
   */
  async #checkBudgetRaise(session: SessionRecord, budget: BudgetLimit): Promise<void> {
    if (!session.budget) {
      throw new InvalidRequestError(`session ${session.id} has no budget: a budget can only be set when a session is created, and a removed one cannot be added again`, {
        errorCode: 'budget_create_only',
      });
    }
    const spent = (await usageOf(this.#store, session.id)).list_cost?.amount ?? '0';
    if (parseCents(budget.max_list_cost.amount) <= parseCents(spent)) {
      throw new InvalidRequestError(`budget.max_list_cost.amount must be more than the ${spent} cents session ${session.id} has spent`, { errorCode: 'budget_not_raised' });
    }
  }

  /**
   * The session's agent with the update's tools and MCP servers, each list replaced whole:
   * the snapshot the API shows and the definition its workflow runs from the next model
   * request on. Only an idle session of an API client's agent takes one.
   */
  async #updatedAgent(session: SessionRecord, update: SessionAgentUpdate): Promise<{ snapshot: SessionAgent; definition: AgentDefinition }> {
    const current = session.agent;
    if (!current) throw new InvalidRequestError(`agent: session ${session.id} was not created from an agent, so its agent cannot be updated`);
    const status = await this.#statusOf(session);
    if (status === 'running' || status === 'rescheduling') {
      throw new ConflictError(`session ${session.id} is ${status}: interrupt it or wait for it to go idle, then update its agent`);
    }
    // A toolset may name a server the update leaves in place; a server the update removes must not be named.
    z.object({ agent: SessionAgentUpdate.superRefine((value, ctx) => checkToolReferences(value, ctx, current)) }).parse({ agent: update });
    const tools = update.tools !== undefined ? resolveTools(update.tools) : current.tools;
    const mcp_servers = update.mcp_servers ?? current.mcp_servers;
    const problem = agentSpecProblem({ tools, mcp_servers });
    if (problem) throw new InvalidRequestError(`agent.${problem}`);
    const snapshot = { ...current, tools, mcp_servers };
    const updated = agentDefinitionOf(snapshot);
    const { mcp_servers: _replaced, ...kept } = session.definition.agent;
    return { snapshot, definition: { ...kept, tools: updated.tools, ...(updated.mcp_servers ? { mcp_servers: updated.mcp_servers } : {}) } };
  }

  /** Writes `session.updated` into the session's log: what the update changed, as the session now has it. */
  async #recordUpdate(before: SessionRecord, after: SessionRecord, params: SessionUpdateParams): Promise<void> {
    const changed = {
      ...(params.agent !== undefined ? { agent: after.agent ?? null } : {}),
      ...(params.title !== undefined && after.title !== before.title ? { title: after.title } : {}),
      ...(params.metadata != null && Object.keys(after.metadata).length > 0 ? { metadata: after.metadata } : {}),
      ...(params.budget !== undefined && !isDeepStrictEqual(after.budget ?? null, before.budget ?? null) ? { budget: after.budget ?? null } : {}),
    };
    if (Object.keys(changed).length === 0) return;
    await this.#store.append(after.id, [{ key: `updated:${newId('upd')}`, event: { type: 'session.updated', ...changed } }]);
  }

  /** Whether the session idles at its budget (so a new budget, or none, resumes it). */
  async #stoppedAtBudget(sessionId: string): Promise<boolean> {
    const [idle] = await this.#store.listEvents(sessionId, { order: 'desc', limit: 1, types: ['session.status_idle', 'session.status_running'] });
    // Only a raise gets this far (#checkBudgetRaise): any budget now lets the session go on.
    return idle?.event.type === 'session.status_idle' && idle.event.stop_reason.type === 'budget_reached';
  }

  async #seqOf(sessionId: string, eventId: string): Promise<number> {
    const seq = await this.#store.seqOfEventId(sessionId, eventId);
    if (seq === undefined) throw new NotFoundError(`event ${eventId} not found in session ${sessionId}`);
    return seq;
  }
}

/**
 * The thread each event is for (undefined: the session's primary), checking what they
 * name: a confirmation must name a held tool call, a custom result a custom tool call,
 * of this session (a thread's calls are cross-posted to the session's log with its id);
 * an interrupt's `session_thread_id` must be a thread of this session that still runs.
 */
async function threadsAddressed(store: SessionStore, sessionId: string, events: readonly UserEventParams[], selfHosted: boolean): Promise<(string | undefined)[]> {
  const threads: (string | undefined)[] = [];
  for (const [index, event] of events.entries()) {
    if (event.type === 'user.tool_confirmation') {
      const call = await store.findEventById(sessionId, event.tool_use_id);
      const held = (call?.event.type === 'agent.tool_use' || call?.event.type === 'agent.mcp_tool_use') && call.event.evaluated_permission === 'ask';
      if (!held) throw new InvalidRequestError(`events.${index}.tool_use_id: ${event.tool_use_id} is not a tool call of this session waiting for confirmation`);
      threads.push(threadOfCall(call.event));
    } else if (event.type === 'user.custom_tool_result') {
      const call = await store.findEventById(sessionId, event.custom_tool_use_id);
      if (call?.event.type !== 'agent.custom_tool_use') throw new InvalidRequestError(`events.${index}.custom_tool_use_id: ${event.custom_tool_use_id} is not a custom tool call of this session`);
      threads.push(threadOfCall(call.event));
    } else if (event.type === 'user.tool_result') {
      // Only a self-hosted environment's workers answer the agent's own tools; Longhaul's sandbox answers them elsewhere.
      if (!selfHosted) throw new InvalidRequestError(`events.${index}.type: user.tool_result events are only valid for self_hosted environments; this session's tools run in Longhaul's sandbox`);
      const call = await store.findEventById(sessionId, event.tool_use_id);
      if (call?.event.type !== 'agent.tool_use') throw new InvalidRequestError(`events.${index}.tool_use_id: ${event.tool_use_id} is not a tool call of this session`);
      threads.push(threadOfCall(call.event));
    } else if (event.type === 'user.interrupt' && event.session_thread_id != null && event.session_thread_id !== primaryThreadIdOf(sessionId)) {
      const thread = await store.threads.get(sessionId, event.session_thread_id);
      if (thread === undefined) throw new InvalidRequestError(`events.${index}.session_thread_id: ${event.session_thread_id} is not a thread of session ${sessionId}`);
      if (thread.archivedAt !== null) throw new InvalidRequestError(`events.${index}.session_thread_id: thread ${thread.id} is archived`);
      threads.push(thread.id);
    } else {
      threads.push(undefined);
    }
  }
  return threads;
}

function threadOfCall(event: object): string | undefined {
  const thread = (event as { session_thread_id?: unknown }).session_thread_id;
  return typeof thread === 'string' ? thread : undefined;
}
