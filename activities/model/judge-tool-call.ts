import type Anthropic from '@anthropic-ai/sdk';
import type { AutoVerdict } from '../../src/core/auto-permission-rules.ts';
import type { Usage } from '../../workflows/contract.ts';

const JUDGE_SYSTEM = [
  'You review one tool call an autonomous agent wants to make inside its sandbox, for a human operator.',
  'Answer with a single JSON object and nothing else: {"decision": "allow" | "ask" | "deny", "reason_code": "<snake_case>"}.',
  'allow: routine, reversible work within the task (reading, building, testing, editing project files).',
  'ask: consequential or hard to reverse (deleting data, publishing, sending messages, spending money, changing credentials), or unclear.',
  'deny: clearly destructive or malicious (wiping systems, exfiltrating secrets, disabling security).',
].join('\n');

const DECISIONS = new Set(['allow', 'ask', 'deny']);

/**
 * The model half of the `auto` policy, for calls the rule layer leaves open.
 * Fails closed: anything but a clear answer is `ask` (`indeterminate`).
 */
export async function judgeToolCall({
  anthropic,
  model,
  tool,
  input,
  signal,
}: {
  anthropic: Anthropic;
  model: string;
  tool: string;
  input: Record<string, unknown>;
  signal?: AbortSignal | undefined;
}): Promise<{ verdict: AutoVerdict; usage: Usage | undefined }> {
  try {
    const message = await anthropic.messages.create(
      {
        model,
        max_tokens: 200,
        system: JUDGE_SYSTEM,
        messages: [{ role: 'user', content: `Tool: ${tool}\nInput (JSON):\n${JSON.stringify(input).slice(0, 8000)}` }],
      },
      { signal, maxRetries: 2 },
    );
    const usage: Usage = {
      input_tokens: message.usage.input_tokens,
      output_tokens: message.usage.output_tokens,
      cache_creation_input_tokens: message.usage.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: message.usage.cache_read_input_tokens ?? 0,
    };
    const text = message.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    return { verdict: parseVerdict(text), usage };
  } catch (err) {
    if (signal?.aborted) throw err;
    return { verdict: { type: 'ask', reason_code: 'indeterminate' }, usage: undefined };
  }
}

export function parseVerdict(text: string): AutoVerdict {
  const json = text.match(/\{[\s\S]*\}/)?.[0];
  try {
    const parsed = JSON.parse(json ?? '') as { decision?: unknown; reason_code?: unknown };
    const decision = typeof parsed.decision === 'string' ? parsed.decision.toLowerCase() : '';
    const reason = typeof parsed.reason_code === 'string' && /^[a-z0-9_]{1,64}$/.test(parsed.reason_code) ? parsed.reason_code : 'model_judgement';
    if (!DECISIONS.has(decision)) return { type: 'ask', reason_code: 'indeterminate' };
    return decision === 'allow' ? { type: 'allow' } : { type: decision as 'ask' | 'deny', reason_code: reason };
  } catch {
    return { type: 'ask', reason_code: 'indeterminate' };
  }
}
