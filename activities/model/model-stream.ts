import type Anthropic from '@anthropic-ai/sdk';
import type { AnswerBlock } from '../../src/core/transcript.ts';

type BetaStreamEvent = Anthropic.Beta.Messages.BetaRawMessageStreamEvent;
type BetaUsage = Anthropic.Beta.Messages.BetaUsage;

/** The beta header of Anthropic's server-side compaction (`compact_20260112`). */
export const COMPACTION_BETA = 'compact-2026-01-12';
/** The API refuses a compaction trigger below this many input tokens. */
export const MIN_COMPACTION_TRIGGER_TOKENS = 50_000;

/** A stream event of either API, and the message as the SDK has accumulated it so far. */
export type ModelStreamEvent = Anthropic.Messages.RawMessageStreamEvent | BetaStreamEvent;
export type ModelStreamSnapshot = { usage: Anthropic.Messages.Usage | BetaUsage };

/** A model's answer as callModel keeps it. */
export type ModelAnswer = {
  content: AnswerBlock[];
  stop_reason: string | null;
  usage: Anthropic.Messages.Usage | BetaUsage;
};

/**
 * Streams one model request. With `compaction`, it goes to the beta Messages API with
 * Anthropic's server-side compaction on: past `triggerTokens` of input the endpoint
 * summarises the conversation itself and puts the summary first in its answer, as a
 * `compaction` block the next requests send back (the transcript keeps it verbatim).
 */
export async function streamModelAnswer(
  anthropic: Anthropic,
  request: Anthropic.Messages.MessageCreateParamsNonStreaming,
  { compaction, signal, onEvent }: { compaction?: { triggerTokens: number } | undefined; signal: AbortSignal; onEvent: (event: ModelStreamEvent, snapshot: ModelStreamSnapshot) => void },
): Promise<ModelAnswer> {
  if (compaction === undefined) {
    const stream = anthropic.messages.stream(request, { signal });
    stream.on('streamEvent', onEvent);
    return await stream.finalMessage();
  }
  const stream = anthropic.beta.messages.stream(
    {
      // The beta API takes every field of a Messages request as it is; the transcript's compaction blocks are the beta's own.
      ...request,
      betas: [COMPACTION_BETA],
      context_management: { edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: Math.max(MIN_COMPACTION_TRIGGER_TOKENS, compaction.triggerTokens) } }] },
    },
    { signal },
  );
  stream.on('streamEvent', onEvent);
  const message = await stream.finalMessage();
  // The request turns on no beta feature but compaction: the answer holds the Messages API's blocks and compaction blocks only.
  return { content: message.content as AnswerBlock[], stop_reason: message.stop_reason, usage: message.usage };
}
