/**
 * Large user content travels to a session by reference. Temporal caps a payload at
 * 2 MiB, and a workflow that receives a bigger signal fails its task forever; so the
 * client keeps content over {@link INLINE_CONTENT_MAX_BYTES} in the store and sends the
 * workflow a one-block stand-in, `{type: 'longhaul_content_ref', id}`, that the
 * event-writing activity swaps back for the stored blocks. The workflow never looks
 * inside content, so it needs no change and its history stays small.
 */
import type { WorkflowEvent } from '../../workflows/contract.ts';
import { newId } from './ids.ts';

export const CONTENT_REF_BLOCK = 'longhaul_content_ref';

/** Content up to this size (as JSON) stays inline: most messages, with no extra write. */
export const INLINE_CONTENT_MAX_BYTES = 16 * 1024;

export type ContentRefBlock = { type: typeof CONTENT_REF_BLOCK; id: string };

export interface ContentStore {
  putContent(sessionId: string, items: readonly { id: string; content: unknown[] }[]): Promise<void>;
  getContent(sessionId: string, ids: readonly string[]): Promise<Map<string, unknown[]>>;
}

/** The events with every large `content` array stored and replaced by a reference. */
export async function externalizeLargeContent<T extends object>(store: ContentStore, sessionId: string, events: readonly T[]): Promise<T[]> {
  const stored: { id: string; content: unknown[] }[] = [];
  const out = events.map((event): T => {
    const content = (event as { content?: unknown }).content;
    if (!Array.isArray(content) || Buffer.byteLength(JSON.stringify(content)) <= INLINE_CONTENT_MAX_BYTES) return event;
    const id = newId('cnt');
    stored.push({ id, content });
    const ref: ContentRefBlock = { type: CONTENT_REF_BLOCK, id };
    return { ...event, content: [ref] };
  });
  if (stored.length > 0) await store.putContent(sessionId, stored);
  return out;
}

/** The events (and their transcript items) with every content reference replaced by the stored blocks. */
export async function resolveContentRefs(store: ContentStore, sessionId: string, events: readonly WorkflowEvent[]): Promise<WorkflowEvent[]> {
  const ids = new Set<string>();
  for (const { event, transcript } of events) {
    for (const id of refsIn(event['content'])) ids.add(id);
    for (const id of refsIn((transcript as { content?: unknown } | undefined)?.content)) ids.add(id);
  }
  if (ids.size === 0) return [...events];
  const found = await store.getContent(sessionId, [...ids]);
  const expand = (content: unknown): unknown => {
    if (!Array.isArray(content)) return content;
    return content.flatMap((block: unknown) => {
      if (!isRef(block)) return [block];
      const blocks = found.get(block.id);
      // Stored before the signal that carries the reference, and deleted only with the session.
      if (blocks === undefined) throw new Error(`content ${block.id} of session ${sessionId} is not in the store`);
      return blocks;
    });
  };
  return events.map((item) => {
    const resolved: WorkflowEvent = { ...item, event: { ...item.event, ...('content' in item.event ? { content: expand(item.event['content']) } : {}) } };
    const transcript = item.transcript as { content?: unknown } | undefined;
    if (transcript !== undefined && 'content' in transcript) resolved.transcript = { ...transcript, content: expand(transcript.content) } as WorkflowEvent['transcript'];
    return resolved;
  });
}

function isRef(block: unknown): block is ContentRefBlock {
  return typeof block === 'object' && block !== null && (block as { type?: unknown }).type === CONTENT_REF_BLOCK && typeof (block as { id?: unknown }).id === 'string';
}

function refsIn(content: unknown): string[] {
  return Array.isArray(content) ? content.filter(isRef).map((block) => block.id) : [];
}
