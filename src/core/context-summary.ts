import { isSummaryRow, rowBytes, type TranscriptRow } from './context-view.ts';
import type { AnswerBlock, TranscriptItem } from './transcript.ts';

/**
 * The system prompt of a summary request. Constant, so a scripted model (and a reader
 * of a session's requests) can tell a summary request from the agent's own.
 */
export const SUMMARY_SYSTEM = [
  "You summarise the earlier part of a long-running agent's conversation so the agent can continue its work without it.",
  'The agent will read your summary in place of those messages and of the previous summary, if there is one: carry over what still matters from it.',
  'Keep: what the user asked for and every constraint they set; decisions and why; the state of the work (files created or changed, commands that matter, what was checked and how it came out); errors met and how they were resolved; open questions; the next steps.',
  'Leave out: pleasantries, repetition, and tool output that no longer matters.',
  'Answer with the summary only, in plain text. Do not continue the task and do not call tools.',
].join('\n');

/** One content block's text in a summary request, at most (the whole output stays in the store and the event log). */
const MAX_BLOCK_CHARS = 2_000;

/** A part of the conversation to summarise, and the summary it continues. */
export type SummaryPlan = {
  /** The latest summary's text: the new one folds it in. */
  previous: string | undefined;
  /** The items it replaces, after the previous summary's, in order. */
  rows: TranscriptRow[];
  /** Position of the last item it replaces: the new summary's `through`, and its key. */
  through: number;
};

/**
 * What to summarise when a session's live context (`liveRows`) has outgrown its budget:
 * the oldest items, leaving a recent tail of at most `keepBytes` (at least the latest
 * turn) as it is, and at most `inputBytes` of rendered conversation per summary request
 * (a longer stretch takes several, each continuing the last). Undefined when there is
 * nothing left to summarise: the tail is all there is.
 *
 * A kept part never starts with a tool result: the API wants each result right after
 * the answer that asked for it, so a cut falls before an answer or a user turn.
 * Pure: the same rows and sizes always give the same plan, so a retried activity asks
 * for the summary of the same range (and finds it stored, keyed by `through`).
 */
export function planSummary(rows: readonly TranscriptRow[], { keepBytes, inputBytes }: { keepBytes: number; inputBytes: number }): SummaryPlan | undefined {
  const { head, body, tailStart } = splitTail(rows, keepBytes);
  if (tailStart <= 0) return undefined;

  // The first stretch to summarise: up to inputBytes of rendered text, ending before a place a cut may fall.
  let end = -1;
  let renderedBytes = 0;
  for (let index = 0; index < tailStart; index++) {
    renderedBytes += renderForSummary(body[index]!.item).length;
    if (!canStartAt(body, index + 1)) continue;
    if (end !== -1 && renderedBytes > inputBytes) break;
    end = index;
  }
  return { previous: head?.item.text, rows: body.slice(0, end + 1), through: body[end]!.pos };
}

/**
 * The position of the first row a summary would keep (`planSummary`'s tail), or undefined
 * when there are no rows. Rows before it will never be shown as they are again once the
 * context is summarised; the tail only moves forward as the conversation grows.
 */
export function keptTailPos(rows: readonly TranscriptRow[], { keepBytes }: { keepBytes: number }): number | undefined {
  const { body, tailStart } = splitTail(rows, keepBytes);
  return body[Math.max(0, tailStart)]?.pos;
}

/** The latest summary (the head of live rows), what follows it, and where the kept tail starts in that (-1: no rows). */
function splitTail(rows: readonly TranscriptRow[], keepBytes: number) {
  const head = rows[0] !== undefined && isSummaryRow(rows[0]) ? rows[0] : undefined;
  const body = head === undefined ? rows : rows.slice(1);
  // The kept tail: the longest one within keepBytes that starts where a cut may fall, or else the latest turn alone.
  let tailStart = -1;
  let tailBytes = 0;
  for (let index = body.length - 1; index >= 0; index--) {
    tailBytes += rowBytes(body[index]!);
    if (!canStartAt(body, index)) continue;
    if (tailStart !== -1 && tailBytes > keepBytes) break;
    tailStart = index;
  }
  return { head, body, tailStart };
}

/** A kept part never starts with a tool result: it must follow the answer that asked for it. */
function canStartAt(body: readonly TranscriptRow[], index: number): boolean {
  return body[index]?.item.kind !== 'tool_result';
}

/**
 * The user message of a summary request: the previous summary, the conversation to
 * fold in (as text, each block cut at 2,000 characters), and the length to aim for.
 */
export function summaryRequestText({ previous, rows }: Pick<SummaryPlan, 'previous' | 'rows'>, { maxWords }: { maxWords: number }): string {
  const parts: string[] = [];
  if (previous !== undefined) parts.push(`<previous-summary>\n${previous}\n</previous-summary>`);
  parts.push(`<conversation>\n${rows.map(({ item }) => renderForSummary(item)).filter(Boolean).join('\n\n')}\n</conversation>`);
  parts.push(`Write the summary${previous === undefined ? '' : ', folding in the previous one'}, in at most ${maxWords} words.`);
  return parts.join('\n\n');
}

/** One transcript item as a summary request shows it. */
export function renderForSummary(item: TranscriptItem): string {
  switch (item.kind) {
    case 'user':
      return `[user]\n${item.content.map((block) => (block.type === 'text' ? clip(block.text) : `[${block.type}]`)).join('\n')}`;
    case 'system':
      return `[system message]\n${item.content.map((block) => clip(block.text)).join('\n')}`;
    case 'assistant':
      return item.content.map(renderAnswerBlock).filter(Boolean).join('\n');
    case 'tool_result': {
      const text = item.content.map((block) => (block.type === 'text' ? block.text : `[${block.type}]`)).join('\n');
      return `[tool result${item.is_error ? ', an error' : ''}]\n${clip(text)}`;
    }
    case 'summary':
      return `[earlier summary]\n${item.text}`;
  }
}

function renderAnswerBlock(block: AnswerBlock): string {
  switch (block.type) {
    case 'text':
      return `[assistant]\n${clip(block.text)}`;
    case 'tool_use':
    case 'server_tool_use':
      return `[assistant called ${block.name}] ${clip(JSON.stringify(block.input ?? {}))}`;
    case 'compaction':
      return block.content ? `[earlier summary]\n${block.content}` : '';
    case 'web_search_tool_result':
    case 'web_fetch_tool_result':
      return `[${block.type.replace(/_/g, ' ')}]`;
    default:
      // Thinking is the model's own scratch work; what came of it is in the text and the calls.
      return '';
  }
}

function clip(text: string): string {
  return text.length <= MAX_BLOCK_CHARS ? text : `${text.slice(0, MAX_BLOCK_CHARS)} … [${text.length - MAX_BLOCK_CHARS} more characters]`;
}
