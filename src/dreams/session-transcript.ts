import type { SessionEvent } from '../schemas/events.ts';
import type { SessionStore } from '../store/session-store.ts';

/** Most of one block (a message, a tool's input or output) a transcript keeps; the rest is elided. */
const MAX_BLOCK_CHARS = 4000;
/** Most of one session a transcript keeps: its start and its end, the middle elided. */
const MAX_TRANSCRIPT_CHARS = 400_000;
const PAGE = 500;

/**
 * A past session as a dream reads it: a Markdown transcript of what the user asked, what
 * the agent said and which tools it ran with what result. Thinking, spans and status
 * noise are left out; long outputs are cut in the middle, so the agent sees how each
 * began and ended.
 */
export async function sessionTranscript(store: Pick<SessionStore, 'listEvents'>, sessionId: string, { title }: { title: string | null }): Promise<string> {
  const lines = [`# Session ${sessionId}${title ? `: ${title}` : ''}`, ''];
  for (let afterSeq = 0; ; ) {
    const page = await store.listEvents(sessionId, { afterSeq, limit: PAGE });
    for (const { event } of page) lines.push(...renderEvent(event));
    if (page.length < PAGE) break;
    afterSeq = page.at(-1)!.seq;
  }
  return elide(lines.join('\n'), MAX_TRANSCRIPT_CHARS);
}

function renderEvent(event: SessionEvent): string[] {
  const e = event as SessionEvent & { content?: unknown; name?: string; input?: unknown; is_error?: boolean; stop_reason?: { type?: string }; error?: { message?: string } };
  switch (event.type) {
    case 'user.message':
      return [`## User`, elide(textOf(e.content), MAX_BLOCK_CHARS), ''];
    case 'agent.message':
      return [`## Agent`, elide(textOf(e.content), MAX_BLOCK_CHARS), ''];
    case 'agent.tool_use':
    case 'agent.mcp_tool_use':
    case 'agent.custom_tool_use':
      return [`### Tool call: ${e.name ?? 'tool'}`, '```json', elide(JSON.stringify(e.input ?? {}, null, 1), MAX_BLOCK_CHARS), '```', ''];
    case 'agent.tool_result':
    case 'agent.mcp_tool_result':
      return [`### Tool result${e.is_error ? ' (error)' : ''}`, '```', elide(textOf(e.content), MAX_BLOCK_CHARS), '```', ''];
    case 'user.custom_tool_result':
      return [`### Custom tool result${e.is_error ? ' (error)' : ''}`, elide(textOf(e.content), MAX_BLOCK_CHARS), ''];
    case 'session.error':
      return [`_Error: ${e.error?.message ?? 'unknown'}_`, ''];
    case 'session.status_idle':
      return [`_The agent stopped: ${e.stop_reason?.type ?? 'idle'}._`, ''];
    default:
      return [];
  }
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block: { type?: string; text?: string }) => (block.type === 'text' ? (block.text ?? '') : `[${block.type ?? 'block'}]`))
    .join('\n');
}

function elide(text: string, max: number): string {
  if (text.length <= max) return text;
  const half = Math.floor(max / 2);
  return `${text.slice(0, half)}\n[… ${text.length - 2 * half} characters left out …]\n${text.slice(-half)}`;
}
