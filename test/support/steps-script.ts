import type { MessageCreateParams } from '@anthropic-ai/sdk/resources/messages';
import { lastToolResults, text, toolUse, type ScriptedTurn } from '../../src/testing/index.ts';

/**
 * A scripted agent: the latest user message names shell commands (`steps: a ;; b`), which
 * it runs with bash, one model call each; then it reports what the last one printed.
 */
export function stepsScript(request: MessageCreateParams): ScriptedTurn {
  const lastTask = request.messages.findLastIndex((m) => m.role === 'user' && (typeof m.content === 'string' || m.content.some((b) => b.type === 'text')));
  const task = request.messages[lastTask]!;
  const taskText = typeof task.content === 'string' ? task.content : task.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  const commands = (/steps: (.+)$/s.exec(taskText)?.[1] ?? 'false').split(' ;; ');
  const step = request.messages.slice(lastTask).filter((m) => m.role === 'assistant').length;
  const command = commands[step];
  if (command !== undefined) return { content: [toolUse('bash', { command })] };
  return { content: [text(`saw: ${lastToolResults(request).map((r) => r.text).join('\n')}`)] };
}
