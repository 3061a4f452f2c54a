import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Longhaul } from '../src/client/longhaul.ts';
import { sessionProgress } from '../src/client/session-progress.ts';
import { DREAM_ENVIRONMENT_ID, DREAM_TRANSCRIPTS_DIR, dreamAgent, dreamTask } from '../src/dreams/dream-agent.ts';
import { sessionTranscript } from '../src/dreams/session-transcript.ts';
import { NotFoundError } from '../src/errors.ts';
import { agentDefinitionOf } from '../src/schemas/api-agent.ts';
import type { Dream, DreamStatus } from '../src/schemas/api-dream.ts';
import { MEMORY_MOUNT_ROOT, memoryMountSlug, type MemoryStoreResource } from '../src/schemas/api-memory.ts';
import { threadAgentOf } from '../src/api/agent-roster.ts';
import type { DreamStore } from '../src/store/dream-store.ts';
import type { FileStore } from '../src/store/file-store.ts';
import { deterministicId } from '../src/store/ids.ts';
import { decodeCursor, type Cursor } from '../src/store/page-cursor.ts';
import type { MemoryStores } from '../src/store/memory-store.ts';
import type { SessionMemoryStore } from '../src/store/session-memory-store.ts';
import type { SessionStore } from '../src/store/session-store.ts';
import type { FileMount, ScheduledDreamInput } from '../workflows/contract.ts';
import { HttpApiError } from '../src/api/api-errors.ts';
import { ConflictError } from '../src/store/conflict-error.ts';
import type { DreamService } from '../src/dreams/dream-service.ts';

export type DreamActivityDeps = {
  /** Creates scheduled dreams with the checks a request gets. */
  service: DreamService;
  dreams: DreamStore;
  memories: MemoryStores;
  sessionMemory: SessionMemoryStore;
  files: FileStore;
  longhaul: Longhaul;
  store: SessionStore;
};

/** How a dream ended, as its workflow saw it. */
export type DreamEnd = { status: 'completed' } | { status: 'canceled' } | { status: 'failed'; error: { type: string; message: string } };

const PAGE = 100;

/**
 * The activities of `dreamWorkflow`. A dream runs as a session of its own (the built-in
 * dreamer agent, the caller's model) that reads the input sessions' transcripts (files
 * in its sandbox) and curates a memory store mounted read-write. Every step is
 * idempotent: ids are derived from the dream's, so a retried step finds what it made.
 */
export function createDreamActivities(deps: DreamActivityDeps) {
  return {
    /** Makes the output store and the dream's session; the dream is then `running`. Null when the dream ended (was canceled) first. */
    async beginDream({ dreamId }: { dreamId: string }): Promise<{ sessionId: string } | null> {
      try {
        return await begin(deps, dreamId);
      } catch (error) {
        // A store or session deleted since the dream was made will not come back.
        if (error instanceof NotFoundError) throw ApplicationFailure.nonRetryable(error.message, 'DreamInputMissing');
        throw error;
      }
    },

    /** Whether the dream's session is still at work; keeps the dream's usage current meanwhile. */
    async dreamProgress({ dreamId, sessionId }: { dreamId: string; sessionId: string }): Promise<'working' | 'succeeded' | 'failed'> {
      await recordUsage(deps, dreamId, sessionId);
      return sessionProgress(deps.store, sessionId);
    },

    /**
     * One fire of a dream schedule: a dream over the sessions that used the store since the
     * last dream that read it (the newest 100). Null when there were none, or the store takes
     * no dream now (archived, deleted, another dream writing into it): the next fire tries again.
     */
    async startScheduledDream(input: ScheduledDreamInput & { fireId: string }): Promise<string | null> {
      const id = deterministicId('drm', input.fireId);
      const made = await deps.dreams.retrieve(id).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      if (made) return made.id;
      const since = (await deps.dreams.latestOver(input.memoryStoreId))?.created_at ?? '';
      const sessionIds = await sessionsSince(deps, input.memoryStoreId, since);
      if (sessionIds.length === 0) {
        Context.current().log.info('scheduled dream skipped: no session used the store since its last dream', { memoryStoreId: input.memoryStoreId });
        return null;
      }
      try {
        const dream = await deps.service.create(
          {
            inputs: [
              { type: 'memory_store', memory_store_id: input.memoryStoreId },
              { type: 'sessions', session_ids: sessionIds },
            ],
            model: input.model,
            instructions: input.instructions,
            output_behavior: input.outputBehavior === 'update_existing' ? { type: 'update_existing', memory_store_id: input.memoryStoreId } : { type: 'create_new' },
          },
          { id },
        );
        return dream.id;
      } catch (error) {
        if (!(error instanceof HttpApiError) && !(error instanceof ConflictError)) throw error;
        Context.current().log.warn('scheduled dream not started', { memoryStoreId: input.memoryStoreId, reason: error.message });
        return null;
      }
    },

    /** Records how the dream ended (unless it had already: a cancel wins over a late finish) and stops its session. */
    async finishDream({ dreamId, end }: { dreamId: string; end: DreamEnd }): Promise<void> {
      const sessionId = dreamSessionId(dreamId);
      const exists = await sessionExists(deps.longhaul, sessionId);
      if (exists) await recordUsage(deps, dreamId, sessionId);
      await deps.dreams.transition(dreamId, {
        from: ['pending', 'running'],
        to: { status: end.status, ended_at: new Date().toISOString(), ...(end.status === 'failed' ? { error: end.error } : {}) },
      });
      if (exists) await stopSession(deps.longhaul, sessionId);
    },
  };
}

export type DreamActivities = ReturnType<typeof createDreamActivities>;

/** `beginDream`: the output store (a copy of the input, or the input itself), the transcripts, the session. */
async function begin(deps: DreamActivityDeps, dreamId: string): Promise<{ sessionId: string } | null> {
  let dream = await deps.dreams.retrieve(dreamId);
  if (isFinal(dream.status)) return null;
  const sessionId = dreamSessionId(dreamId);
  const input = await deps.memories.retrieve(inputStoreOf(dream));
  const actor = { type: 'session_actor' as const, session_id: sessionId };
  const output =
    dream.output_behavior.type === 'update_existing'
      ? input
      : await deps.memories.create({ id: deterministicId('memstore', dreamId), name: `${input.name} (dream)`, description: input.description, metadata: { dream_id: dreamId } });
  dream = await deps.dreams.update(dreamId, { outputs: [{ type: 'memory_store', memory_store_id: output.id }] });
  if (output.id !== input.id) await copyMemories(deps.memories, input.id, output.id, actor);

  const sessionIds = sessionIdsOf(dream);
  const mounts: FileMount[] = [];
  for (const inputSession of sessionIds) mounts.push(await transcriptFile(deps, dreamId, sessionId, inputSession));
  const resource: MemoryStoreResource = {
    type: 'memory_store',
    memory_store_id: output.id,
    access: 'read_write',
    name: output.name,
    description: output.description,
    instructions: null,
    mount_path: `${MEMORY_MOUNT_ROOT}/${memoryMountSlug(output.name)}`,
  };
  await deps.sessionMemory.attach(sessionId, [resource]);
  if (!(await sessionExists(deps.longhaul, sessionId))) {
    const agent = dreamAgent(dream.model.id, dream.created_at);
    await deps.longhaul.sessions.create({
      id: sessionId,
      agent: agentDefinitionOf(agent),
      events: [{ type: 'user.message', content: [{ type: 'text', text: dreamTask({ storeMount: resource.mount_path, sessionIds, instructions: dream.instructions, startsAsCopy: output.id !== input.id }) }] }],
      mounts,
      named: { agent: { ...threadAgentOf(agent), multiagent: null }, environmentId: DREAM_ENVIRONMENT_ID },
      title: `Dream ${dreamId}`,
      metadata: { dream_id: dreamId },
    });
  }
  const running = await deps.dreams.transition(dreamId, { from: ['pending'], to: { status: 'running', session_id: sessionId } });
  if (running.status !== 'running') {
    // Canceled while this ran (the workflow may have finished without seeing the session).
    await stopSession(deps.longhaul, sessionId);
    return null;
  }
  return { sessionId };
}

/** Sessions that attached the store after `since` (not dreams' own), newest first, at most 100. */
async function sessionsSince(deps: DreamActivityDeps, storeId: string, since: string): Promise<string[]> {
  const found: { id: string; created_at: string }[] = [];
  for (const id of await deps.sessionMemory.sessionsWith(storeId)) {
    const record = await deps.longhaul.sessions.record(id).catch(() => undefined);
    if (!record || record.created_at <= since || record.metadata?.['dream_id'] !== undefined) continue;
    found.push({ id, created_at: record.created_at });
  }
  return found
    .sort((a, b) => b.created_at.localeCompare(a.created_at))
    .slice(0, 100)
    .map((s) => s.id);
}

/** A dream's session: one per dream, so every step finds it. */
const dreamSessionId = (dreamId: string) => deterministicId('sesn', dreamId);

/** The session's work is done or abandoned: stop its workflow and free its sandbox; its log stays readable. */
async function stopSession(longhaul: Longhaul, sessionId: string): Promise<void> {
  try {
    await longhaul.sessions.terminate(sessionId);
  } catch (error) {
    // Already over.
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

const isFinal = (status: DreamStatus) => status === 'completed' || status === 'failed' || status === 'canceled';

function inputStoreOf(dream: Dream): string {
  const input = dream.inputs.find((i) => i.type === 'memory_store');
  if (!input || input.type !== 'memory_store') throw ApplicationFailure.nonRetryable(`dream ${dream.id} names no memory store`, 'DreamInvalid');
  return input.memory_store_id;
}

function sessionIdsOf(dream: Dream): string[] {
  return dream.inputs.flatMap((i) => (i.type === 'sessions' ? i.session_ids : []));
}

/** Copies every memory of `from` into `to` (a retried copy writes nothing twice: equal content is no version). */
async function copyMemories(memories: MemoryStores, from: string, to: string, actor: { type: 'session_actor'; session_id: string }): Promise<void> {
  for (let cursor: Cursor | undefined; ; ) {
    const page = await memories.listMemories(from, { limit: PAGE, cursor, withContent: true });
    for (const memory of page.data) {
      if (memory.type === 'memory' && memory.content !== null) await memories.writePath(to, memory.path, memory.content, actor);
      Context.current().heartbeat();
    }
    if (!page.next_page) return;
    cursor = decodeCursor(page.next_page);
  }
}

/** The input session's transcript as a file of the dream's session (made once), and where its sandbox gets it. */
async function transcriptFile({ files, longhaul, store }: DreamActivityDeps, dreamId: string, dreamSessionId: string, inputSessionId: string): Promise<FileMount> {
  const id = deterministicId('file', dreamId, inputSessionId);
  const mountPath = `${DREAM_TRANSCRIPTS_DIR}/${inputSessionId}.md`;
  try {
    const existing = await files.retrieve(id);
    return { fileId: id, mountPath, sizeBytes: existing.size_bytes };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  const record = await longhaul.sessions.record(inputSessionId);
  const bytes = Buffer.from(await sessionTranscript(store, inputSessionId, { title: record.title ?? null }), 'utf8');
  // Bytes first, then the metadata that makes the file visible: a retry after a crash in between rewrites the bytes.
  await files.deleteContent(id);
  await files.writeContent(id, (async function* () {
    yield bytes;
  })());
  await files.create({
    type: 'file',
    id,
    filename: `${inputSessionId}.md`,
    mime_type: 'text/markdown',
    size_bytes: bytes.length,
    created_at: new Date().toISOString(),
    downloadable: true,
    expires_at: null,
    scope: { type: 'session', id: dreamSessionId },
  });
  return { fileId: id, mountPath, sizeBytes: bytes.length };
}

async function recordUsage(deps: DreamActivityDeps, dreamId: string, sessionId: string): Promise<void> {
  const { usage } = await deps.longhaul.sessions.retrieve(sessionId);
  await deps.dreams.update(dreamId, {
    usage: {
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      cache_creation_input_tokens: usage.cache_creation.ephemeral_5m_input_tokens,
    },
  });
}

async function sessionExists(longhaul: Longhaul, id: string): Promise<boolean> {
  try {
    await longhaul.sessions.record(id);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}
