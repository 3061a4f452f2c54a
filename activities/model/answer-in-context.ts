import type { TranscriptItem } from '../../src/core/transcript.ts';
import { isPromptTooLong } from './classify-model-error.ts';
import type { FittedContext } from './fit-context.ts';
import type { ModelAnswer } from './model-stream.ts';

/**
 * How many times in a row one model call compacts its context while the endpoint keeps
 * refusing the request as longer than its window, before it gives up with the SDK's
 * `compaction_limit_reached_error`.
 */
export const MAX_COMPACTIONS_IN_A_ROW = 3;

/**
 * The context cannot be made to fit: compacted `MAX_COMPACTIONS_IN_A_ROW` times without
 * the model answering, or refused again when compacting could not make it any smaller
 * (a single turn larger than the window). The turn stops; the session stays usable.
 */
export class CompactionLimitReached extends Error {
  override readonly name = 'CompactionLimitReached';
}

/**
 * Asks the model for its answer in a context that fits. Each try fits the transcript to
 * the budget (`fit`) and streams the request; when the endpoint refuses it as too long
 * (its window is the authority, the byte budget only an estimate), the next try halves
 * the budget and summarises, up to `MAX_COMPACTIONS_IN_A_ROW` times.
 *
 * With `serverCompaction` (Anthropic's endpoint), the endpoint summarises the
 * conversation itself as it nears the window, and Longhaul only clears tool outputs;
 * a refusal still falls back to Longhaul's own summaries.
 *
 * @throws CompactionLimitReached when no compaction makes the request fit.
 */
export async function answerInContext({
  budgetBytes,
  serverCompaction,
  fit,
  stream,
  signal,
}: {
  /** Bytes of transcript (as JSON) a request should stay within. */
  budgetBytes: number;
  serverCompaction: boolean;
  fit: (options: { budgetBytes: number; summarize: boolean }) => Promise<FittedContext>;
  stream: (items: TranscriptItem[]) => Promise<ModelAnswer>;
  /** Stops the model call (an interrupt or Temporal's cancellation): its errors are not refusals. */
  signal: AbortSignal;
}): Promise<ModelAnswer> {
  let budget = budgetBytes;
  let refusals = 0;
  let refusedBytes = Infinity;
  for (;;) {
    let sentBytes: number | undefined;
    try {
      const context = await fit({ budgetBytes: budget, summarize: !serverCompaction || refusals > 0 });
      if (context.bytes >= refusedBytes) {
        throw new CompactionLimitReached(`the conversation cannot be compacted below ${context.bytes} bytes, which the model's endpoint refuses as longer than its context window`);
      }
      sentBytes = context.bytes;
      return await stream(context.items);
    } catch (err) {
      if (signal.aborted || !isPromptTooLong(err)) throw err;
      refusals += 1;
      if (refusals > MAX_COMPACTIONS_IN_A_ROW) {
        throw new CompactionLimitReached(`the context was compacted ${MAX_COMPACTIONS_IN_A_ROW} times in a row and the model's endpoint still refuses the request: ${(err as Error).message}`);
      }
      // A refused summary request (its input was too long) only needs a smaller budget; a refused request must get smaller to be worth sending again.
      if (sentBytes !== undefined) refusedBytes = sentBytes;
      budget = Math.max(1, Math.floor(Math.min(budget, sentBytes ?? budget) / 2));
    }
  }
}
