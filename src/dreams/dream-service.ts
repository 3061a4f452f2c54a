import { BadRequestError, PrerequisiteError } from '../api/api-errors.ts';
import { NotFoundError } from '../errors.ts';
import type { Dream, DreamCreateParams, DreamSchedule, DreamScheduleParams } from '../schemas/api-dream.ts';
import type { DreamSchedules } from './dream-schedules.ts';
import { ConflictError } from '../store/conflict-error.ts';
import type { DreamStore, ListDreamsOptions } from '../store/dream-store.ts';
import { newId } from '../store/ids.ts';
import type { MemoryStores } from '../store/memory-store.ts';
import type { Page } from '../store/page-cursor.ts';
import type { DreamRunner } from './dream-runner.ts';

/** Whether a session exists (`Longhaul.sessions.record` throws NotFoundError when not). */
export type SessionLookup = { record(id: string): Promise<unknown> };

/**
 * Dreams as the API serves them: checks what a dream reads, keeps its record and hands
 * it to the runner (a Temporal workflow per dream), which moves its status on.
 */
export class DreamService {
  readonly #dreams: DreamStore;
  readonly #memories: MemoryStores;
  readonly #sessions: SessionLookup;
  readonly #runner: DreamRunner;
  /** Dream schedules (a Longhaul extension); without them the schedule routes answer 400. */
  readonly #schedules: DreamSchedules | undefined;

  constructor({ dreams, memories, sessions, runner, schedules }: { dreams: DreamStore; memories: MemoryStores; sessions: SessionLookup; runner: DreamRunner; schedules?: DreamSchedules | undefined }) {
    this.#dreams = dreams;
    this.#memories = memories;
    this.#sessions = sessions;
    this.#runner = runner;
    this.#schedules = schedules;
  }

  // ── Dream schedules (Longhaul extension) ──────────────────────────────────

  /** Dreams over the store on a cron, each over the sessions that used it since its last dream. The store must exist and be live. */
  async setSchedule(memoryStoreId: string, params: DreamScheduleParams): Promise<DreamSchedule> {
    const store = await this.#memories.retrieve(memoryStoreId);
    if (store.archived_at !== null) throw new BadRequestError(`memory store ${memoryStoreId} is archived`);
    return this.#scheduler().set(memoryStoreId, params);
  }

  async schedule(memoryStoreId: string): Promise<DreamSchedule> {
    await this.#memories.retrieve(memoryStoreId);
    return this.#scheduler().retrieve(memoryStoreId);
  }

  async removeSchedule(memoryStoreId: string): Promise<void> {
    await this.#scheduler().remove(memoryStoreId);
  }

  /** Fires the store's dream schedule now. */
  async runSchedule(memoryStoreId: string): Promise<DreamSchedule> {
    await this.#scheduler().trigger(memoryStoreId);
    return this.#scheduler().retrieve(memoryStoreId);
  }

  #scheduler(): DreamSchedules {
    if (!this.#schedules) throw new BadRequestError('this server runs no dream schedules');
    return this.#schedules;
  }

  /** `id`: a scheduled fire's own (so a retried fire makes the same dream); a new one otherwise. */
  async create(params: DreamCreateParams, { id }: { id?: string | undefined } = {}): Promise<Dream> {
    await this.#checkInputs(params);
    const behavior = params.output_behavior ?? { type: 'create_new' as const };
    if (behavior.type === 'update_existing') {
      const holder = await this.#dreams.activeWriterOf(behavior.memory_store_id);
      if (holder) throw new ConflictError(`output_behavior: dream ${holder.id} still writes into memory store ${behavior.memory_store_id}; wait for it to end, or cancel it`);
    }
    const model = typeof params.model === 'string' ? { id: params.model } : params.model;
    const dream: Dream = {
      type: 'dream',
      id: id ?? newId('drm'),
      status: 'pending',
      inputs: params.inputs.map((input) => (input.type === 'sessions' ? { type: 'sessions', session_ids: [...input.session_ids].sort() } : input)),
      model: { id: model.id, speed: 'standard' },
      instructions: params.instructions ?? null,
      output_behavior: behavior,
      outputs: [],
      session_id: null,
      error: null,
      usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      created_at: new Date().toISOString(),
      ended_at: null,
      archived_at: null,
    };
    await this.#dreams.create(dream);
    try {
      await this.#runner.start(dream);
    } catch (error) {
      await this.#dreams.transition(dream.id, {
        from: ['pending'],
        to: { status: 'failed', ended_at: new Date().toISOString(), error: { type: 'internal_error', message: `the dream could not be started: ${String(error)}` } },
      });
      throw error;
    }
    return dream;
  }

  retrieve(id: string): Promise<Dream> {
    return this.#dreams.retrieve(id);
  }

  list(options: ListDreamsOptions): Promise<Page<Dream>> {
    return this.#dreams.list(options);
  }

  /** Stops a pending or running dream (`canceled` at once); a canceled one is returned as is; an ended one is a 400. */
  async cancel(id: string): Promise<Dream> {
    const dream = await this.#dreams.transition(id, { from: ['pending', 'running'], to: { status: 'canceled', ended_at: new Date().toISOString() } });
    if (dream.status === 'completed' || dream.status === 'failed') throw new BadRequestError(`dream ${id} has already ended (${dream.status}); only a pending or running dream can be canceled`);
    await this.#runner.cancel(id);
    return dream;
  }

  /** Hides an ended dream from the default list; a pending or running one is a 400 (cancel it first). */
  async archive(id: string): Promise<Dream> {
    const dream = await this.#dreams.retrieve(id);
    if (dream.archived_at !== null) return dream;
    if (dream.status === 'pending' || dream.status === 'running') throw new BadRequestError(`dream ${id} is ${dream.status}; cancel it before archiving it`);
    return this.#dreams.update(id, { archived_at: new Date().toISOString() });
  }

  /** The memory store must exist and not be archived; every session must exist. 404s name the field. */
  async #checkInputs(params: DreamCreateParams): Promise<void> {
    for (const [index, input] of params.inputs.entries()) {
      if (input.type === 'memory_store') {
        const where = `inputs.${index}.memory_store_id`;
        const store = await this.#memories.retrieve(input.memory_store_id).catch((error: unknown) => {
          if (error instanceof NotFoundError) throw new PrerequisiteError('not_found_error', `${where}: memory store ${input.memory_store_id} not found`, 'session_resource_not_found_error');
          throw error;
        });
        if (store.archived_at !== null) throw new PrerequisiteError('invalid_request_error', `${where}: memory store ${store.id} is archived`, 'memory_store_archived_error');
        continue;
      }
      for (const [at, sessionId] of input.session_ids.entries()) {
        await this.#sessions.record(sessionId).catch((error: unknown) => {
          if (error instanceof NotFoundError) throw new PrerequisiteError('not_found_error', `inputs.${index}.session_ids.${at}: session ${sessionId} not found`, 'session_resource_not_found_error');
          throw error;
        });
      }
    }
  }
}
