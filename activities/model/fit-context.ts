import type Anthropic from '@anthropic-ai/sdk';
import { contextRows, rowBytes, type TranscriptRow } from '../../src/core/context-view.ts';
import { fitToContextBudget, transcriptBytes } from '../../src/core/context-budget.ts';
import { keptTailPos, planSummary, SUMMARY_SYSTEM, summaryRequestText, type SummaryPlan } from '../../src/core/context-summary.ts';
import type { TranscriptItem } from '../../src/core/transcript.ts';
import { usageFrom, type Usage } from '../../src/core/usage.ts';
import type { SessionStore } from '../../src/store/session-store.ts';
import type { TranscriptCache } from './transcript-cache.ts';

type Log = { warn(message: string, meta?: Record<string, unknown>): void };

/** Summary requests one fitting may make (each folds in up to half the budget): a bound, not an expected number. */
const MAX_SUMMARIES_PER_FIT = 64;

export type FitContextOptions = {
  store: SessionStore;
  anthropic: Anthropic;
  transcripts: TranscriptCache;
  /** The log the transcript and its events belong to (a thread's, for a thread). */
  sessionId: string;
  /** The model that writes summaries: the agent's. */
  model: string;
  /** Bytes of transcript (as JSON) the request should stay within. */
  budgetBytes: number;
  /** Replace older turns by summaries when clearing tool outputs is not enough. */
  summarize: boolean;
  /**
   * Let the worker's cache keep only the notes of the tool outputs this fitting clears: only
   * at the worker's usual budget (a tighter one, after the endpoint refused a request, is
   * for that call alone), so every worker builds the same requests from the same transcript.
   */
  rememberCleared: boolean;
  signal: AbortSignal;
  /** Told of each summary request's usage, to bill it with the call. */
  onSummaryUsage: (usage: Usage) => Promise<void>;
  log: Log;
};

export type FittedContext = {
  /** What the request is built from. */
  items: TranscriptItem[];
  /** Their size as JSON: within the budget unless even a summary could not make room. */
  bytes: number;
  /** Summary requests made for this request. */
  summaries: number;
};

/**
 * The transcript items of a session's next model request, within `budgetBytes`: the
 * model's view (`contextRows`: from the latest compaction on), old tool outputs
 * cleared (`fitToContextBudget`), and, when that is not enough, everything but a recent
 * tail (a quarter of the budget, at least the latest turn) replaced by a summary the
 * model writes in requests of its own (each folding up to half the budget into the last).
 * The summary and the tail then leave room for many steps before the next compaction.
 *
 * Each summary is recorded as a transcript item keyed by the last position it covers,
 * with an `agent.thread_context_compacted` event, in one transaction, before the request
 * it makes room for. A retried call then finds it and never summarises the same range
 * twice; a stale attempt that races it stores nothing (same key). The event log is not
 * touched: it keeps every event.
 */
export async function fitContext(options: FitContextOptions): Promise<FittedContext> {
  const { store, transcripts, sessionId, budgetBytes } = options;
  const keepBytes = Math.floor(budgetBytes / 4);
  let rows = await transcripts.read(store, sessionId);
  let fitted = fitRows(rows, budgetBytes);
  let summaries = 0;
  if (options.summarize && fitted.bytes > budgetBytes) {
    // All the way to the tail, not just until it fits: the next compaction is then many steps away.
    for (let plan = planSummary(rows, { keepBytes, inputBytes: Math.floor(budgetBytes / 2) }); plan !== undefined && summaries < MAX_SUMMARIES_PER_FIT; summaries++) {
      await summarize(options, plan);
      rows = await transcripts.read(store, sessionId);
      plan = planSummary(rows, { keepBytes, inputBytes: Math.floor(budgetBytes / 2) });
    }
    if (summaries > 0) fitted = fitRows(rows, budgetBytes);
  }
  if (options.rememberCleared) {
    // Never a row a summary would keep: it may be shown in full again once what precedes it is summarised.
    const tailPos = keptTailPos(rows, { keepBytes }) ?? Infinity;
    transcripts.forgetCleared(sessionId, newlyCleared(fitted.view, fitted.items).filter((row) => row.pos < tailPos));
  }
  return { items: fitted.items, bytes: fitted.bytes, summaries };
}

/** The model's view of `rows` with old tool outputs cleared to fit `budgetBytes` (sizes as stored). */
function fitRows(rows: readonly TranscriptRow[], budgetBytes: number): { view: TranscriptRow[]; items: TranscriptItem[]; bytes: number } {
  const view = contextRows(rows);
  const items = fitToContextBudget(
    view.map((row) => row.item),
    budgetBytes,
    { sizes: view.map(rowBytes) },
  );
  return { view, items, bytes: transcriptBytes(items) };
}

/** The tool results `fitted` cleared that the rows still hold in full. */
function newlyCleared(view: readonly TranscriptRow[], fitted: readonly TranscriptItem[]): { pos: number; item: TranscriptItem }[] {
  return view.flatMap((row, index) => {
    const item = fitted[index];
    if (item === undefined || item === row.item || item.kind !== 'tool_result' || row.item.kind !== 'tool_result') return [];
    const note = item.content[0];
    const held = row.item.content[0];
    return row.item.content.length === 1 && note?.type === 'text' && held?.type === 'text' && held.text === note.text ? [] : [{ pos: row.pos, item }];
  });
}

/** One summary request, and its record. */
async function summarize({ store, anthropic, sessionId, model, budgetBytes, signal, onSummaryUsage, log }: FitContextOptions, plan: SummaryPlan): Promise<void> {
  // About four bytes a token: the summary stays near an eighth of the budget.
  const maxTokens = Math.min(8_192, Math.max(256, Math.floor(budgetBytes / 32)));
  const message = await anthropic.messages.create(
    {
      model,
      max_tokens: maxTokens,
      system: SUMMARY_SYSTEM,
      messages: [{ role: 'user', content: summaryRequestText(plan, { maxWords: Math.floor(maxTokens * 0.6) }) }],
    },
    { signal },
  );
  await onSummaryUsage(usageFrom(message.usage));
  let text = message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n').trim();
  if (text === '') {
    // A session that goes on without the summary beats one that stops: say what is missing.
    log.warn('the summary request answered no text; the summarised turns are replaced by a note', { sessionId, through: plan.through });
    text = `${plan.previous ?? ''}\n[${plan.rows.length} earlier items of this conversation were removed to fit the context window; no summary of them could be written.]`.trim();
  }
  const key = `summary:${plan.through}`;
  await store.append(sessionId, [{ key, event: { type: 'agent.thread_context_compacted' } }], [{ key, item: { kind: 'summary', text, through: plan.through } }]);
}
