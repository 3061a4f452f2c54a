/**
 * Anthropic's server-side compaction (`context_management` with a `compact_20260112`
 * edit, beta `compact-2026-01-12`) as the scripted model does it: past the edit's
 * trigger, the answer opens with a `compaction` block that stands in for the whole
 * conversation so far, and later requests are counted from their last such block.
 */
import { z } from 'zod';
import { ApiRequestError } from './api-errors.ts';
import { estimateInputTokens } from './scripted-message.ts';

export const COMPACTION_BETA = 'compact-2026-01-12';
/** The API's default trigger, and the least it accepts. */
const DEFAULT_TRIGGER_TOKENS = 150_000;
const MIN_TRIGGER_TOKENS = 50_000;

const CompactEdit = z.object({
  type: z.literal('compact_20260112'),
  trigger: z.object({ type: z.literal('input_tokens'), value: z.number().int() }).nullish(),
  pause_after_compaction: z.boolean().optional(),
  instructions: z.string().nullish(),
});

const ContextManagement = z.object({ edits: z.array(z.looseObject({ type: z.string() })).optional() });

/** A request's compaction edit, checked; undefined when it asks for none. */
export type CompactionEdit = { triggerTokens: number; pause: boolean };

/**
 * The request's `compact_20260112` edit.
 * @throws ApiRequestError `invalid_request_error` without the beta header, for an edit
 *   this server does not implement, or for a trigger below 50,000 tokens.
 */
export function compactionEditOf(body: { context_management?: unknown }, headers: Readonly<Record<string, string>>): CompactionEdit | undefined {
  if (body.context_management == null) return undefined;
  const parsed = ContextManagement.safeParse(body.context_management);
  if (!parsed.success) throw new ApiRequestError('invalid_request_error', 'context_management: Input should be a valid dictionary');
  const betas = (headers['anthropic-beta'] ?? '').split(',').map((beta) => beta.trim());
  let edit: CompactionEdit | undefined;
  for (const [index, raw] of (parsed.data.edits ?? []).entries()) {
    if (raw.type !== 'compact_20260112') throw new ApiRequestError('invalid_request_error', `context_management.edits.${index}.type: the scripted model implements only compact_20260112, not ${raw.type}`);
    if (!betas.includes(COMPACTION_BETA)) throw new ApiRequestError('invalid_request_error', `context_management.edits.${index}: compact_20260112 requires the anthropic-beta header ${COMPACTION_BETA}`);
    const compact = CompactEdit.safeParse(raw);
    if (!compact.success) throw new ApiRequestError('invalid_request_error', `context_management.edits.${index}: ${compact.error.issues[0]?.message ?? 'invalid edit'}`);
    const triggerTokens = compact.data.trigger?.value ?? DEFAULT_TRIGGER_TOKENS;
    if (triggerTokens < MIN_TRIGGER_TOKENS) throw new ApiRequestError('invalid_request_error', `context_management.edits.${index}.trigger.value: must be at least ${MIN_TRIGGER_TOKENS} input tokens`);
    edit = { triggerTokens, pause: compact.data.pause_after_compaction === true };
  }
  return edit;
}

/**
 * The compaction a request gets: none under its trigger; past it, a summary of its
 * conversation. The scripted model cannot summarise, so the summary says what it stands
 * for (a test can tell which request it came from by its counts).
 */
export function compactionFor(edit: CompactionEdit | undefined, body: { system?: unknown; messages: unknown[]; tools?: unknown }, inputTokens: number): { summary: string; inputTokens: number; pause: boolean; tokensAfter: number } | undefined {
  if (edit === undefined || inputTokens <= edit.triggerTokens) return undefined;
  const summary = `Summary of the conversation so far: ${body.messages.length} messages, ${inputTokens} input tokens, compacted by the scripted model.`;
  const tokensAfter = estimateInputTokens({ system: body.system, tools: body.tools, messages: [{ role: 'assistant', content: [{ type: 'compaction', content: summary }] }] });
  return { summary, inputTokens, pause: edit.pause, tokensAfter };
}
