import { deterministicId } from '../../src/store/ids.ts';
import type { StreamPreview, StreamPreviews } from '../../src/store/stream-previews.ts';
import type { ModelStreamEvent } from './model-stream.ts';

/** NOTIFY payloads must stay under 8000 bytes; text is split well below that, escaping included. */
const MAX_DELTA_CHARS = 1500;

/**
 * Turns a streaming model answer into `event_start` / `event_delta` previews: a
 * text block's start (with the id its `agent.message` will carry) and its text as
 * it comes; a thinking block's start only. Previews go out one at a time and in
 * order; text that arrives while one is in flight is merged into the next, so a
 * fast stream costs few NOTIFYs. Best effort: a lost preview only loses a preview.
 */
export function previewPublisher({ previews, sessionId, callKey }: { previews: Pick<StreamPreviews, 'publish'>; sessionId: string; callKey: string }) {
  const queue: StreamPreview[] = [];
  let pumping: Promise<void> | undefined;
  const eventIdOf = (index: number) => deterministicId('sevt', sessionId, `${callKey}:block:${index}`);

  const pump = async () => {
    while (queue.length > 0) {
      let next = queue.shift()!;
      // Merge consecutive text of the same event.
      while (next.type === 'event_delta' && queue[0]?.type === 'event_delta' && queue[0].event_id === next.event_id) {
        const following = queue[0];
        const merged = next.delta.content.text + following.delta.content.text;
        if (merged.length > MAX_DELTA_CHARS) break;
        queue.shift();
        next = { ...next, delta: { ...next.delta, content: { type: 'text', text: merged } } };
      }
      await previews.publish(sessionId, next).catch(() => undefined);
    }
    pumping = undefined;
  };
  const enqueue = (preview: StreamPreview) => {
    queue.push(preview);
    pumping ??= pump();
  };

  return {
    onStreamEvent(event: ModelStreamEvent): void {
      if (event.type === 'content_block_start') {
        const { content_block: block, index } = event;
        if (block.type === 'text') enqueue({ type: 'event_start', event: { type: 'agent.message', id: eventIdOf(index) } });
        else if (block.type === 'thinking' || block.type === 'redacted_thinking') enqueue({ type: 'event_start', event: { type: 'agent.thinking', id: eventIdOf(index) } });
        if (block.type === 'text' && block.text) enqueue(delta(eventIdOf(index), block.text));
      } else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
        const text = event.delta.text;
        for (let i = 0; i < text.length; i += MAX_DELTA_CHARS) enqueue(delta(eventIdOf(event.index), text.slice(i, i + MAX_DELTA_CHARS)));
      }
    },
    /** Resolves once every preview so far is sent: the final events may follow. */
    async flush(): Promise<void> {
      while (pumping) await pumping;
    },
  };
}

function delta(eventId: string, text: string): StreamPreview {
  return { type: 'event_delta', event_id: eventId, delta: { type: 'content_delta', index: 0, content: { type: 'text', text } } };
}
