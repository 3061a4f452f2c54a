/**
 * Readers for the request a function script receives: what did the user (or the
 * tools) just say?
 */
import type { ContentBlockParam, MessageParam, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { ScriptedRequest } from './script.ts';

/** A `tool_result` block with its text content joined into `text`. */
export type ToolResultWithText = ToolResultBlockParam & { text: string };

/** The last message with `role: 'user'`, or undefined when there is none. */
export function lastUserMessage(request: ScriptedRequest): MessageParam | undefined {
  return request.messages.findLast((message) => message.role === 'user');
}

/**
 * The text of the last user message: its string content, or its text blocks joined
 * with newlines (tool results are not included). Empty when there is none.
 * @example
 * const script: ScriptFunction = (request) => reply(`You said: ${lastUserText(request)}`);
 */
export function lastUserText(request: ScriptedRequest): string {
  const content = lastUserMessage(request)?.content;
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return joinText(content);
}

/**
 * The `tool_result` blocks of the last user message, in order, each with its text
 * joined into `text`. Empty when the last user message carries none.
 * @example
 * const script: ScriptFunction = (request) => {
 *   const [result] = lastToolResults(request);
 *   return result ? reply(`The tool said: ${result.text}`) : reply(toolUse('bash', { command: 'date' }));
 * };
 */
export function lastToolResults(request: ScriptedRequest): ToolResultWithText[] {
  const content = lastUserMessage(request)?.content;
  if (content === undefined || typeof content === 'string') return [];
  // Widen the union of array types (user, assistant, system) so filter's type guard applies.
  const blocks: readonly ContentBlockParam[] = content;
  return blocks
    .filter((block): block is ToolResultBlockParam => block.type === 'tool_result')
    .map((block) => ({ ...block, text: toolResultText(block) }));
}

function toolResultText(block: ToolResultBlockParam): string {
  if (block.content === undefined) return '';
  if (typeof block.content === 'string') return block.content;
  return joinText(block.content);
}

function joinText(blocks: ReadonlyArray<ContentBlockParam | { type: string }>): string {
  return blocks
    .flatMap((block) => ('text' in block && block.type === 'text' && typeof block.text === 'string' ? [block.text] : []))
    .join('\n');
}
