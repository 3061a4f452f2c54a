import { NotFoundError } from '../errors.ts';
import { MEMORY_MOUNT_ROOT, memoryMountSlug, type MemoryStoreResource, type MemoryStoreResourceParams } from '../schemas/api-memory.ts';
import type { MemoryStores } from '../store/memory-store.ts';
import type { SessionMemoryStore } from '../store/session-memory-store.ts';
import { BadRequestError, PrerequisiteError } from './api-errors.ts';

/** What memory store resources need of the API; without them such resources are refused. */
export type SessionMemoryDeps = { memories?: MemoryStores | undefined; sessionMemory?: SessionMemoryStore | undefined };

/**
 * Resolves the `memory_store` entries of a `resources` list (errors name their index in
 * the whole list): each store must exist and not be archived, and appear once. Each gets
 * a folder of its own under `/mnt/memory`, named after the store (`-2`, `-3`, … when two
 * names make the same folder name). Nothing is written.
 */
export async function prepareMemoryResources(
  { memories, sessionMemory }: SessionMemoryDeps,
  resources: readonly { type: string }[],
  { field }: { field: string },
): Promise<MemoryStoreResource[]> {
  const prepared: MemoryStoreResource[] = [];
  const slugs = new Set<string>();
  for (const [index, resource] of resources.entries()) {
    if (resource.type !== 'memory_store') continue;
    const param = resource as MemoryStoreResourceParams;
    const where = `${field}.${index}.memory_store_id`;
    if (!memories || !sessionMemory) throw new BadRequestError(`${where}: this server keeps no memory stores`);
    if (prepared.some((r) => r.memory_store_id === param.memory_store_id)) throw new BadRequestError(`${where}: memory store ${param.memory_store_id} is attached twice`);
    let store;
    try {
      store = await memories.retrieve(param.memory_store_id);
    } catch (error) {
      if (error instanceof NotFoundError) throw new PrerequisiteError('not_found_error', `${where}: memory store ${param.memory_store_id} not found`, 'session_resource_not_found_error');
      throw error;
    }
    if (store.archived_at !== null) throw new PrerequisiteError('invalid_request_error', `${where}: memory store ${store.id} is archived`, 'memory_store_archived_error');
    const base = memoryMountSlug(store.name);
    let slug = base;
    for (let n = 2; slugs.has(slug); n++) slug = `${base}-${n}`;
    slugs.add(slug);
    prepared.push({
      type: 'memory_store',
      memory_store_id: store.id,
      access: param.access ?? 'read_write',
      name: store.name,
      description: store.description,
      instructions: param.instructions ?? null,
      mount_path: `${MEMORY_MOUNT_ROOT}/${slug}`,
    });
  }
  return prepared;
}
