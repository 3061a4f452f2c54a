/**
 * Turns a session's event stream into terminal lines for `longhaul run`. Pure: no I/O,
 * no clock, no colours — it says what to print (with a tone the output module may
 * colour) and whether a spinner should be showing; `run-command.ts` does the printing.
 */
import type { BetaManagedAgentsStreamSessionEvents } from '@anthropic-ai/sdk/resources/beta/sessions/events';

export type StreamEvent = BetaManagedAgentsStreamSessionEvents;

/** How a line should look; the output module maps tones to colours (or nothing, off a TTY). */
export type Tone = 'plain' | 'dim' | 'user' | 'agent' | 'tool' | 'ok' | 'warn' | 'error' | 'heading';

export type RenderedLine = { tone: Tone; text: string };

/** Why a run is over: the session went idle (with its stop reason), or it ended for good. */
export type RunEnd =
  | { kind: 'idle'; stopReason: StopReason }
  | { kind: 'terminated' }
  | { kind: 'deleted' };

export type StopReason = { type: string; event_ids?: string[] | undefined };

export type Rendered = {
  lines: RenderedLine[];
  /** Spinner text to show after printing `lines`, or null for none. */
  spinner: string | null;
  /** Set on the event that ends the run. */
  end?: RunEnd;
};

export type TokenUsage = {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  /** What the session cost at list prices (USD), when the server says. */
  listCostUsd?: string | undefined;
};

/** What the renderer counted along the way; feeds the summary. */
export type RunStats = {
  toolCalls: number;
  failedToolCalls: number;
  modelRequests: number;
  errors: number;
  /** Summed from `span.model_request_end`: the fallback when the session's own usage is unavailable. */
  spanUsage: TokenUsage;
};

export type EventRendererOptions = {
  /** Lines of a tool result shown before "… N more lines". Default 8. */
  maxResultLines?: number;
  /** Characters per line of tool input or output before it is cut. Default 160. */
  maxLineChars?: number;
};

export type EventRenderer = {
  render(event: StreamEvent): Rendered;
  readonly stats: RunStats;
};

const RESULT_FIRST = '  ⎿ ';
const RESULT_NEXT = '    ';

/**
 * A renderer for one run. It ends the run only on an idle (or termination) that
 * follows the run's own activity, so a server that replays history on connect
 * cannot end the run with the idle of the session's creation.
 *
 * @example
 * const renderer = createEventRenderer();
 * for await (const event of stream) {
 *   const { lines, spinner, end } = renderer.render(event);
 *   // print lines, show or hide the spinner, stop at `end`
 * }
 */
export function createEventRenderer({ maxResultLines = 8, maxLineChars = 160 }: EventRendererOptions = {}): EventRenderer {
  const stats: RunStats = {
    toolCalls: 0,
    failedToolCalls: 0,
    modelRequests: 0,
    errors: 0,
    spanUsage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
  };
  const seen = new Set<string>();
  const toolNames = new Map<string, string>();
  const pendingTools = new Set<string>();
  let modelRequestOpen = false;
  let started = false;

  const spinner = (): string | null => {
    if (modelRequestOpen) return 'thinking…';
    const [first] = pendingTools;
    if (first === undefined) return null;
    const name = toolNames.get(first) ?? 'tool';
    return pendingTools.size > 1 ? `running ${name} and ${pendingTools.size - 1} more…` : `running ${name}…`;
  };
  const out = (lines: RenderedLine[], end?: RunEnd): Rendered => (end ? { lines, spinner: null, end } : { lines, spinner: spinner() });
  const cut = (text: string) => truncate(text, maxLineChars);

  const render = (event: StreamEvent): Rendered => {
    const id = 'id' in event && typeof event.id === 'string' ? event.id : undefined;
    if (id !== undefined) {
      if (seen.has(id)) return out([]);
      seen.add(id);
    }
    switch (event.type) {
      case 'user.message':
        started = true;
        return out(prefixed('› ', 'user', textOf(event.content)));
      case 'user.interrupt':
        return out([{ tone: 'warn', text: '› interrupt sent; the agent stops at the next safe point' }]);
      case 'user.tool_confirmation':
        return out([{ tone: 'dim', text: `› tool call ${event.result === 'allow' ? 'allowed' : 'denied'}` }]);
      case 'system.message':
        return out(prefixed('› system: ', 'dim', textOf(event.content)));
      case 'session.status_running':
        started = true;
        return out([]);
      case 'span.model_request_start':
        started = true;
        modelRequestOpen = true;
        stats.modelRequests += 1;
        return out([]);
      case 'span.model_request_end': {
        modelRequestOpen = false;
        const usage = event.model_usage;
        stats.spanUsage.input += usage.input_tokens;
        stats.spanUsage.output += usage.output_tokens;
        stats.spanUsage.cacheRead += usage.cache_read_input_tokens;
        stats.spanUsage.cacheWrite += usage.cache_creation_input_tokens;
        return out(event.is_error ? [{ tone: 'warn', text: '  (model request failed)' }] : []);
      }
      case 'agent.thinking':
        return out([]);
      case 'agent.message':
        return out(prefixed('', 'agent', textOf(event.content)));
      case 'agent.tool_use':
      case 'agent.custom_tool_use':
      case 'agent.mcp_tool_use': {
        stats.toolCalls += 1;
        const name = event.type === 'agent.mcp_tool_use' ? `${event.mcp_server_name}/${event.name}` : event.name;
        toolNames.set(event.id, name);
        pendingTools.add(event.id);
        const lines: RenderedLine[] = [{ tone: 'tool', text: cut(`▸ ${name} ${summarizeToolInput(event.name, event.input)}`.trimEnd()) }];
        if ('evaluated_permission' in event && event.evaluated_permission === 'ask') lines.push({ tone: 'warn', text: `${RESULT_FIRST}waiting for confirmation` });
        if ('evaluated_permission' in event && event.evaluated_permission === 'deny') lines.push({ tone: 'warn', text: `${RESULT_FIRST}denied by the permission policy` });
        return out(lines);
      }
      case 'agent.tool_result':
      case 'agent.mcp_tool_result': {
        const toolUseId = event.type === 'agent.tool_result' ? event.tool_use_id : event.mcp_tool_use_id;
        pendingTools.delete(toolUseId);
        if (event.is_error) stats.failedToolCalls += 1;
        return out(renderToolResult(event.content ?? [], event.is_error === true, maxResultLines, maxLineChars));
      }
      case 'user.custom_tool_result':
        pendingTools.delete(event.custom_tool_use_id);
        if (event.is_error) stats.failedToolCalls += 1;
        return out(renderToolResult(event.content ?? [], event.is_error === true, maxResultLines, maxLineChars));
      case 'user.tool_result':
        pendingTools.delete(event.tool_use_id);
        if (event.is_error) stats.failedToolCalls += 1;
        return out(renderToolResult(event.content ?? [], event.is_error === true, maxResultLines, maxLineChars));
      case 'session.error': {
        stats.errors += 1;
        const retry = event.error.retry_status.type;
        const what = retry === 'retrying' ? 'retrying' : retry === 'exhausted' ? 'gave up on this turn' : 'the session will end';
        return out([{ tone: 'error', text: `✗ session error (${event.error.type}): ${oneLine(event.error.message)} — ${what}` }]);
      }
      case 'session.status_rescheduled':
        return out([{ tone: 'warn', text: '  (rescheduled after a transient failure; resuming)' }]);
      case 'session.status_idle': {
        if (!started) return out([]);
        modelRequestOpen = false;
        pendingTools.clear();
        const stopReason: StopReason = event.stop_reason;
        const lines: RenderedLine[] = [];
        if (stopReason.type === 'requires_action') {
          const ids = stopReason.event_ids ?? [];
          lines.push({ tone: 'warn', text: `The agent waits for a decision on ${ids.length} tool call(s): ${ids.map((i) => toolNames.get(i) ?? i).join(', ')}` });
        }
        if (event.stop_details?.type === 'refusal') {
          lines.push({ tone: 'warn', text: `Refused${event.stop_details.category ? ` (${event.stop_details.category})` : ''}: ${event.stop_details.explanation ?? 'no explanation given'}` });
        }
        return out(lines, { kind: 'idle', stopReason });
      }
      case 'session.status_terminated':
        modelRequestOpen = false;
        pendingTools.clear();
        return out([{ tone: 'error', text: 'The session was terminated.' }], { kind: 'terminated' });
      case 'session.deleted':
        return out([{ tone: 'error', text: 'The session was deleted.' }], { kind: 'deleted' });
      case 'session.thread_created':
        return out([{ tone: 'dim', text: `  + thread ${event.agent_name} (${event.session_thread_id})` }]);
      case 'session.thread_status_idle':
        return out([{ tone: 'dim', text: `  thread ${event.agent_name} idle (${event.stop_reason.type})` }]);
      case 'session.thread_status_terminated':
        return out([{ tone: 'dim', text: `  thread ${event.agent_name} terminated` }]);
      case 'agent.thread_message_sent':
        return out(prefixed(`→ ${event.to_agent_name ?? event.to_session_thread_id}: `, 'agent', textOf(event.content)));
      case 'agent.thread_message_received':
        return out(prefixed(`← ${event.from_agent_name ?? event.from_session_thread_id}: `, 'agent', textOf(event.content)));
      case 'agent.thread_context_compacted':
        return out([{ tone: 'dim', text: '  (context compacted)' }]);
      case 'user.define_outcome':
        return out(prefixed('› outcome: ', 'user', event.description));
      case 'span.outcome_evaluation_start':
        return out([{ tone: 'dim', text: `  evaluating the outcome (iteration ${event.iteration + 1})…` }]);
      case 'span.outcome_evaluation_end':
        return out([{ tone: event.result === 'satisfied' ? 'ok' : 'warn', text: cut(`  outcome ${event.result}: ${oneLine(event.explanation)}`) }]);
      case 'workflow_run.error':
        stats.errors += 1;
        return out([{ tone: 'error', text: `✗ workflow run error (${event.error.type}): ${oneLine(event.error.message)}` }]);
      default:
        // Status echoes, usage snapshots, previews, and event types newer than this CLI: nothing to show.
        return out([]);
    }
  };

  return { render, stats };
}

/** One line saying what a tool call does: the bash command, the file path, the pattern… */
export function summarizeToolInput(name: string, input: Record<string, unknown>): string {
  const str = (key: string): string | undefined => (typeof input[key] === 'string' ? (input[key] as string) : undefined);
  switch (name) {
    case 'bash': {
      if (input['restart'] === true) return '(restart the shell)';
      const command = str('command') ?? '';
      const lines = command.split('\n');
      return `$ ${oneLine(lines[0] ?? '')}${lines.length > 1 ? ` (+${lines.length - 1} more lines)` : ''}`;
    }
    case 'read': {
      const range = Array.isArray(input['view_range']) ? ` [lines ${(input['view_range'] as unknown[]).join('-')}]` : '';
      return `${str('file_path') ?? '?'}${range}`;
    }
    case 'write': {
      const content = str('content') ?? '';
      return `${str('file_path') ?? '?'} (${countLines(content)} lines)`;
    }
    case 'edit':
      return `${str('file_path') ?? '?'}${input['replace_all'] === true ? ' (all occurrences)' : ''}`;
    case 'glob':
    case 'grep': {
      const where = str('path');
      return `${str('pattern') ?? '?'}${where ? ` in ${where}` : ''}`;
    }
    case 'web_fetch':
      return str('url') ?? compactJson(input);
    case 'web_search':
      return str('query') ?? compactJson(input);
    default:
      return compactJson(input);
  }
}

type ResultBlock = { type: string; text?: string | undefined };

function renderToolResult(content: readonly ResultBlock[], isError: boolean, maxLines: number, maxChars: number): RenderedLine[] {
  const text = content
    .map((block) => (block.type === 'text' ? (block.text ?? '') : `[${block.type}]`))
    .join('\n')
    .replace(/\s+$/, '');
  const all = text === '' ? [isError ? '(failed, no output)' : '(no output)'] : sanitize(text).split('\n');
  const shown = all.slice(0, maxLines);
  const lines: RenderedLine[] = shown.map((line, i) => ({
    tone: isError ? 'error' : 'dim',
    text: truncate(`${i === 0 ? RESULT_FIRST : RESULT_NEXT}${i === 0 && isError ? '✗ ' : ''}${line}`, maxChars),
  }));
  if (all.length > maxLines) lines.push({ tone: 'dim', text: `${RESULT_NEXT}… ${all.length - maxLines} more lines` });
  return lines;
}

/** Text of content blocks; non-text blocks show as `[image]`, `[document]`, … */
function textOf(content: readonly ResultBlock[]): string {
  return content.map((block) => (block.type === 'text' ? (block.text ?? '') : `[${block.type}]`)).join('\n');
}

/** Lines of `text`, the first with `prefix`, the rest indented to match. */
function prefixed(prefix: string, tone: Tone, text: string): RenderedLine[] {
  const lines = sanitize(text).replace(/\s+$/, '').split('\n');
  const indent = ' '.repeat([...prefix].length);
  return lines.map((line, i) => ({ tone, text: `${i === 0 ? prefix : indent}${line}` }));
}

/**
 * Tool output and model text go to a terminal: drop control characters (escape
 * sequences could move the cursor or retitle the window), keep newlines and tabs.
 */
export function sanitize(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

function oneLine(text: string): string {
  return sanitize(text).replace(/\s*\n\s*/g, ' ⏎ ').trim();
}

function truncate(text: string, maxChars: number): string {
  const chars = [...text];
  return chars.length <= maxChars ? text : `${chars.slice(0, maxChars - 1).join('')}…`;
}

function countLines(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

function compactJson(value: unknown): string {
  const json = JSON.stringify(value) ?? '';
  return json === '{}' ? '' : oneLine(json);
}
