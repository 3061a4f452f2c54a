import { ConflictError } from '../src/store/conflict-error.ts';
import { NotFoundError } from '../src/errors.ts';
import { MAX_MEMORY_BYTES, MEMORY_MOUNT_ROOT, memoryPathProblem, type MemoryStoreResource } from '../src/schemas/api-memory.ts';
import type { MemoryStores } from '../src/store/memory-store.ts';
import type { SessionMemoryStore } from '../src/store/session-memory-store.ts';
import type { MemoryApply, MemoryManifest, MemoryMount, MemoryRejection, Sandbox } from '../sandbox/types.ts';

/** A memory store as a session mounts it: the resource, and its folder's name under `/mnt/memory`. */
export type AttachedStore = MemoryStoreResource & { slug: string };

/** Sessions whose attached stores are kept in memory (they never change in a session's life). */
const ATTACHED_CACHE_SIZE = 1000;
/** Rounds of a push that keep finding more (a scan reply is cut at its byte limit). */
const MAX_SCAN_ROUNDS = 100;

const REJECTION_TEXT: Record<MemoryRejection, string> = {
  too_large: `it is larger than ${MAX_MEMORY_BYTES} bytes`,
  not_utf8: 'it is not UTF-8 text',
  bad_path: 'its path is not a memory path (at most 20 segments and 1024 bytes, UTF-8 names in Unicode NFC, no control characters)',
  not_regular: 'it is not a regular file (links, pipes and devices are not kept)',
};

/**
 * Keeps the memory stores a session mounts and the files in its sandbox in step. Before
 * a tool call, `pull` brings in what changed in the stores since the sandbox was last
 * synced (other sessions, the API); after it, `push` commits what the agent changed as
 * versions by the session. Each side is compared with the last synced state, so neither
 * overwrites a change the other has not seen: a file the agent changed is never replaced
 * by a pull, and is committed as the later write by the next push.
 *
 * Every step is idempotent: a worker that dies half-way leaves the last synced state
 * behind, and the retried call finds the same differences and commits them once (a
 * write equal to the store's content is no version).
 */
export class MemorySync {
  readonly #memories: MemoryStores;
  readonly #sessions: SessionMemoryStore;
  readonly #attached = new Map<string, Promise<AttachedStore[]>>();
  /** Rejections already told to the agent, so each is said once per worker, not after every call. */
  readonly #told = new Set<string>();

  constructor({ memories, sessionMemory }: { memories: MemoryStores; sessionMemory: SessionMemoryStore }) {
    this.#memories = memories;
    this.#sessions = sessionMemory;
  }

  /** The session's memory stores (none for most sessions). */
  attached(sessionId: string): Promise<AttachedStore[]> {
    let attached = this.#attached.get(sessionId);
    if (!attached) {
      attached = this.#sessions.resources(sessionId).then((resources) => resources.map((r) => ({ ...r, slug: r.mount_path.slice(MEMORY_MOUNT_ROOT.length + 1) })));
      attached.catch(() => this.#attached.delete(sessionId));
      if (this.#attached.size >= ATTACHED_CACHE_SIZE) this.#attached.delete(this.#attached.keys().next().value!);
      this.#attached.set(sessionId, attached);
    }
    return attached;
  }

  /** The sandbox's memory mounts, for its spec. */
  async mounts(sessionId: string): Promise<MemoryMount[]> {
    return (await this.attached(sessionId)).map((store) => ({ slug: store.slug, readOnly: store.access === 'read_only' }));
  }

  /** The system prompt's memory section, or undefined when the session mounts no store. */
  async prompt(sessionId: string): Promise<string | undefined> {
    const attached = await this.attached(sessionId);
    return attached.length > 0 ? memoryPrompt(attached) : undefined;
  }

  /** Brings the stores' changes since the last sync into the sandbox, except over files the agent changed meanwhile. */
  async pull(sessionId: string, sandbox: Sandbox): Promise<void> {
    const attached = await this.attached(sessionId);
    if (attached.length === 0) return;
    const changes = await Promise.all(attached.map(async (store) => ({ store, changes: await this.#sessions.storeChanges(sessionId, store.memory_store_id) })));
    const apply: MemoryApply = { writes: [], deletes: [] };
    for (const { store, changes: list } of changes) {
      for (const change of list) {
        if (change.content !== null) apply.writes.push({ store: store.slug, path: change.path, content: change.content, expectSha256: change.synced });
        else if (change.synced !== null) apply.deletes.push({ store: store.slug, path: change.path, expectSha256: change.synced });
      }
    }
    if (apply.writes.length === 0 && apply.deletes.length === 0) return;
    const { skipped } = await sandbox.applyMemory(apply);
    const left = new Set(skipped.map((ref) => `${ref.store}\0${ref.path}`));
    for (const { store, changes: list } of changes) {
      const applied = list.filter((change) => !left.has(`${store.slug}\0${change.path}`));
      await this.#sessions.recordSynced(sessionId, store.memory_store_id, applied.map((change) => ({ path: change.path, sha256: change.sha256 })));
    }
  }

  /**
   * Commits what the agent changed under `/mnt/memory` since the last sync, as versions
   * by the session. Returns what the agent should be told: files that cannot be memories,
   * and stores that no longer take writes.
   */
  async push(sessionId: string, sandbox: Sandbox): Promise<string[]> {
    const attached = await this.attached(sessionId);
    if (!attached.some((store) => store.access === 'read_write')) return [];
    const bySlug = new Map(attached.map((store) => [store.slug, store]));
    const synced = await this.#sessions.synced(sessionId);
    const known: MemoryManifest = {};
    for (const store of attached) known[store.slug] = Object.fromEntries((synced.get(store.memory_store_id) ?? []).map((p) => [p.path, p.sha256]));
    const notes: string[] = [];
    const actor = { type: 'session_actor' as const, session_id: sessionId };
    for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
      const scan = await sandbox.scanMemory(known);
      const done = new Map<AttachedStore, { path: string; sha256: string | null }[]>();
      const record = (store: AttachedStore, path: string, sha256: string | null) => {
        done.set(store, [...(done.get(store) ?? []), { path, sha256 }]);
        if (sha256 === null) delete known[store.slug]![path];
        else known[store.slug]![path] = sha256;
      };
      const refused = new Set<AttachedStore>();
      const commit = async (store: AttachedStore, write: () => Promise<unknown>): Promise<boolean> => {
        if (refused.has(store)) return false;
        try {
          await write();
          return true;
        } catch (error) {
          if (!(error instanceof ConflictError) && !(error instanceof NotFoundError)) throw error;
          refused.add(store);
          notes.push(`The memory store "${store.name}" no longer takes changes (${error.message}): what changed in ${store.mount_path} was not saved.`);
          return false;
        }
      };
      for (const file of scan.changed) {
        const store = bySlug.get(file.store);
        if (!store || store.access !== 'read_write') continue;
        if (memoryPathProblem(file.path) !== undefined) {
          this.#tell(notes, sessionId, store, file.path, 'bad_path');
          continue;
        }
        if (await commit(store, () => this.#memories.writePath(store.memory_store_id, file.path, file.content, actor))) record(store, file.path, file.sha256);
      }
      for (const file of scan.deleted) {
        const store = bySlug.get(file.store);
        if (!store || store.access !== 'read_write') continue;
        if (await commit(store, () => this.#memories.deletePath(store.memory_store_id, file.path, actor))) record(store, file.path, null);
      }
      for (const file of scan.rejected) {
        const store = bySlug.get(file.store);
        if (store && store.access === 'read_write') this.#tell(notes, sessionId, store, file.path, file.reason);
      }
      for (const [store, entries] of done) await this.#sessions.recordSynced(sessionId, store.memory_store_id, entries);
      if (!scan.truncated) break;
    }
    return notes;
  }

  #tell(notes: string[], sessionId: string, store: AttachedStore, path: string, reason: MemoryRejection): void {
    const key = `${sessionId}\0${store.slug}\0${path}\0${reason}`;
    if (this.#told.has(key)) return;
    if (this.#told.size >= 10_000) this.#told.clear();
    this.#told.add(key);
    notes.push(`${store.mount_path}${path} is not saved to memory: ${REJECTION_TEXT[reason]}.`);
  }
}

/** What the agent is told of its memory: where each store is, whether it may write there, and the guidance given with it. */
export function memoryPrompt(stores: readonly AttachedStore[]): string {
  const lines = [
    '# Memory',
    `Folders under ${MEMORY_MOUNT_ROOT} are memory stores: their files outlive this session, and later sessions (and other agents sharing a store) read them. ` +
      'Look in them before you start. In a read-write store, save what future work should know (facts, decisions, preferences, lessons learned) as small UTF-8 text files ' +
      `of at most ${MAX_MEMORY_BYTES} bytes, organised by path; keep them current, and delete what is no longer true. Every change is kept as a version.`,
    '',
  ];
  for (const store of stores) {
    const description = store.description ? `: ${store.description}` : '';
    lines.push(`- ${store.mount_path} (${store.access === 'read_only' ? 'read-only' : 'read-write'}), the store "${store.name}"${description}`);
    if (store.instructions) lines.push(...store.instructions.split('\n').map((line) => `  ${line}`));
  }
  return lines.join('\n');
}
