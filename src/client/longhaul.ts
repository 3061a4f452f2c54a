import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { zeroUsage } from '../core/usage.ts';
import { AgentDefinition, type AgentDefinitionInput } from '../schemas/agent.ts';
import { EnvironmentDefinition, type EnvironmentDefinitionInput } from '../schemas/environment.ts';
import { UserEventParams, type SessionEvent } from '../schemas/events.ts';
import { externalizeLargeContent } from '../store/content-refs.ts';
import { deterministicId, newId } from '../store/ids.ts';
import type { SessionStore } from '../store/session-store.ts';
import type { sessionCleanupWorkflow, sessionWorkflow } from '../../workflows/index.ts';
import {
  DEFAULT_TASK_QUEUE,
  mountFilesSignal,
  SESSION_CLEANUP_WORKFLOW,
  SESSION_WORKFLOW,
  settingsSignal,
  statusQuery,
  terminateSignal,
  userEventsSignal,
} from '../../workflows/contract.ts';
import type { BudgetLimit, FileMount, SessionRemoval, SessionSettings, SessionStatus, SessionTuning } from '../../workflows/contract.ts';
import { NotFoundError } from '../errors.ts';

export type CreateSessionOptions = {
  agent: AgentDefinitionInput;
  environment?: EnvironmentDefinitionInput;
  /** Events to start with, usually the first `user.message`. */
  events?: unknown[];
  /** Session id; a new `sesn_…` when omitted. */
  id?: string;
  /** Vaults whose credentials the session's MCP calls and sandbox egress may use. */
  vaultIds?: string[];
  /** Most the session may spend at list prices; it idles with `budget_reached` there. */
  budget?: BudgetLimit | null;
  /** Uploaded files a worker copies into the sandbox before the first model call (validated paths). */
  mounts?: FileMount[];
  tuning?: SessionTuning;
};

export type SessionInfo = {
  id: string;
  agent: AgentDefinition;
  environment: EnvironmentDefinition;
  created_at: string;
  status: SessionStatus['phase'];
  stop_reason: SessionStatus['stopReason'];
  usage: SessionStatus['usage'];
};

/** A user event as sent: its log id is known before the session takes it. */
export type SentUserEvent = UserEventParams & { id: string; processed_at: string | null };

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
    create: async ({ agent, environment = {}, events = [], id = newId('sesn'), vaultIds = [], budget = null, mounts = [], tuning }: CreateSessionOptions): Promise<SessionInfo> => {
      const parsedAgent = AgentDefinition.parse(agent);
      const parsedEnvironment = EnvironmentDefinition.parse(environment);
      const parsedEvents = z.array(UserEventParams).parse(events);
      // Large content waits in the store; the workflow's input carries references.
      const initialEvents = await externalizeLargeContent(this.#store, id, parsedEvents);
      const createdAt = new Date().toISOString();
      await this.#store.putSession(id, { id, agent: parsedAgent, environment: parsedEnvironment, created_at: createdAt });
      await this.#client.workflow.start<typeof sessionWorkflow>(SESSION_WORKFLOW, {
        taskQueue: this.#taskQueue,
        workflowId: id,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        args: [{ sessionId: id, storeId: this.#store.storeId, agent: parsedAgent, environment: parsedEnvironment, initialEvents, tuning, ...(vaultIds.length > 0 ? { vaultIds } : {}), ...(budget ? { budget } : {}), ...(mounts.length > 0 ? { mounts } : {}) }],
      });
      return {
        id,
        agent: parsedAgent,
        environment: parsedEnvironment,
        created_at: createdAt,
        status: initialEvents.length > 0 ? 'running' : 'idle',
        stop_reason: null,
        usage: zeroUsage(),
      };
    },

    retrieve: async (sessionId: string): Promise<SessionInfo> => {
      const record = await this.#store.getSession(sessionId);
      if (!record) throw new NotFoundError(`session ${sessionId} not found`);
      const status = await this.#status(sessionId);
      return {
        ...(record as Pick<SessionInfo, 'id' | 'agent' | 'environment' | 'created_at'>),
        status: status?.phase ?? 'terminated',
        stop_reason: status?.stopReason ?? null,
        usage: status?.usage ?? zeroUsage(),
      };
    },

    /** Changes the budget and/or vaults of a running session (raising the budget resumes a session stopped at it). */
    updateSettings: async (sessionId: string, settings: SessionSettings): Promise<void> => {
      await this.#client.workflow.getHandle(sessionId).signal(settingsSignal, settings);
    },

    /** Has a worker copy uploaded files into the session's sandbox before its next model call (at once when idle). */
    mountFiles: async (sessionId: string, mounts: FileMount[]): Promise<void> => {
      await this.#client.workflow.getHandle(sessionId).signal(mountFilesSignal, mounts);
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
    send: async (sessionId: string, events: unknown[]): Promise<SentUserEvent[]> => {
      const parsed = z.array(UserEventParams).min(1).parse(events);
      const keyed = parsed.map((event) => ({ ...event, key: `user:${newId('in')}` }));
      // Large content waits in the store (written before the signal, so the workflow's
      // reference always resolves); the signal stays far below Temporal's payload limit.
      await this.#client.workflow.getHandle(sessionId).signal(userEventsSignal, await externalizeLargeContent(this.#store, sessionId, keyed));
      return keyed.map(({ key, ...event }) => ({ ...event, id: deterministicId('sevt', sessionId, key), processed_at: null }));
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

  /** Stops what the agent is doing; the session goes idle and takes the next message. */
  async interrupt(sessionId: string): Promise<SentUserEvent[]> {
    return this.events.send(sessionId, [{ type: 'user.interrupt' }]);
  }

  async #status(sessionId: string): Promise<SessionStatus | undefined> {
    try {
      return await this.#client.workflow.getHandle(sessionId).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      // A completed workflow cannot answer queries on some servers; it is terminated.
      if (err instanceof Error && /completed|closed/i.test(err.message)) return undefined;
      throw err;
    }
  }

  async #seqOf(sessionId: string, eventId: string): Promise<number> {
    const seq = await this.#store.seqOfEventId(sessionId, eventId);
    if (seq === undefined) throw new NotFoundError(`event ${eventId} not found in session ${sessionId}`);
    return seq;
  }
}
