import type { SessionEvent } from './api-client.ts';
import { formatTime } from './api-client.ts';

/** What the page can do with an event: answer a pending approval. */
export type Decide = (toolUse: SessionEvent, result: 'allow' | 'deny') => void;

type Block = { type: string; text?: string; [key: string]: unknown };

const textOf = (content: unknown): string => {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return content === undefined ? '' : JSON.stringify(content, null, 2);
  return (content as Block[]).map((b) => (b.type === 'text' && typeof b.text === 'string' ? b.text : `[${b.type}]`)).join('\n');
};

const resultUseId = (e: SessionEvent): string | undefined =>
  e.type === 'agent.tool_result' ? e.tool_use_id : e.type === 'agent.mcp_tool_result' ? e.mcp_tool_use_id : e.type === 'user.custom_tool_result' ? e.custom_tool_use_id : undefined;

/**
 * A lane's events in order, tool calls paired with their results, approvals still
 * awaited shown with Allow and Deny. Status and span events that only say "running"
 * are left to the header, so the timeline reads as the conversation.
 */
export function Timeline({ events, decide, deciding }: { events: SessionEvent[]; decide: Decide; deciding: ReadonlySet<string> }) {
  const results = new Map<string, SessionEvent>();
  const confirmations = new Map<string, 'allow' | 'deny'>();
  for (const e of events) {
    const useId = resultUseId(e);
    if (useId) results.set(useId, e);
    if (e.type === 'user.tool_confirmation') confirmations.set(e.tool_use_id, e.result);
  }
  const shown = events.filter((e) => resultUseId(e) === undefined && e.type !== 'user.tool_confirmation');
  return (
    <ol className="timeline">
      {shown.map((e) => (
        <EventItem key={e.id} event={e} result={results.get(e.id)} confirmation={confirmations.get(e.id)} decide={decide} deciding={deciding.has(e.id)} />
      ))}
    </ol>
  );
}

function EventItem({ event: e, result, confirmation, decide, deciding }: { event: SessionEvent; result: SessionEvent | undefined; confirmation: 'allow' | 'deny' | undefined; decide: Decide; deciding: boolean }) {
  const time = 'processed_at' in e ? formatTime(e.processed_at) : '';
  const item = (kind: string, title: string, body: React.ReactNode, extra = '') => (
    <li className={`event ev-${kind} ${extra}`} data-event-type={e.type} data-event-id={e.id}>
      <div className="ev-head">
        <span className="ev-kind">{title}</span>
        <span className="ev-time">{time}</span>
      </div>
      {body}
    </li>
  );
  if (e.type === 'agent.tool_use' || e.type === 'agent.mcp_tool_use' || e.type === 'agent.custom_tool_use') {
    const pending = e.type !== 'agent.custom_tool_use' && e.evaluated_permission === 'ask' && confirmation === undefined && result === undefined;
    const server = e.type === 'agent.mcp_tool_use' ? ` · ${e.mcp_server_name}` : e.type === 'agent.custom_tool_use' ? ' · custom' : '';
    const failed = result && 'is_error' in result && result.is_error === true;
    return item(
      'tool',
      `Tool call · ${e.name}${server}`,
      <>
        <details open={pending}>
          <summary>Input</summary>
          <pre>{JSON.stringify(e.input, null, 2)}</pre>
        </details>
        {result && (
          <details className={failed ? 'failed' : ''} data-tool-result-for={e.id}>
            <summary>{failed ? 'Output (error)' : 'Output'}</summary>
            <pre>{textOf('content' in result ? result.content : undefined)}</pre>
          </details>
        )}
        {pending && (
          <div className="approval" role="group" aria-label="Approval">
            <span>The agent asks to run this tool.</span>
            <button type="button" className="allow" disabled={deciding} onClick={() => decide(e, 'allow')}>
              Allow
            </button>
            <button type="button" className="deny" disabled={deciding} onClick={() => decide(e, 'deny')}>
              Deny
            </button>
          </div>
        )}
        {confirmation && <div className={`decision decision-${confirmation}`}>{confirmation === 'allow' ? 'Allowed' : 'Denied'}</div>}
        {!result && !pending && <div className="muted small">running…</div>}
      </>,
      pending ? 'pending' : '',
    );
  }
  switch (e.type) {
    case 'user.message':
      return item('user', 'User', <div className="text">{textOf(e.content)}</div>);
    case 'agent.message':
      return item('agent', 'Agent', <div className="text">{textOf(e.content)}</div>);
    case 'agent.thinking':
      // The API reports that the model thought, not what: thinking stays with the model.
      return item('thinking', 'Thinking', null);
    case 'user.interrupt':
      return item('status', 'Interrupted by the user', null);
    case 'user.define_outcome':
      return item('outcome', 'Outcome defined', <div className="text">{textOf(e.description)}</div>);
    case 'span.outcome_evaluation_end':
      return item(
        'outcome',
        `Outcome evaluation ${e.iteration + 1}: ${e.result}`,
        <div className="text">{e.explanation}</div>,
        `outcome-${e.result}`,
      );
    case 'session.error':
      return item('error', `Error · ${e.error.type}`, <div className="text">{e.error.message}</div>);
    case 'session.status_idle':
      return item('status', `Idle · ${e.stop_reason.type.replace(/_/g, ' ')}`, null);
    case 'session.status_terminated':
      return item('status', 'Terminated', null);
    case 'session.status_rescheduled':
      return item('status', 'Rescheduled after a transient error', null);
    case 'session.thread_created':
      return item('thread', `Thread started · ${e.agent_name}`, <div className="mono small muted">{e.session_thread_id}</div>);
    case 'agent.thread_message_sent':
      return item('thread', `Message to ${e.to_agent_name ?? e.to_session_thread_id}`, <div className="text">{textOf(e.content)}</div>);
    case 'agent.thread_message_received':
      return item('thread', `Message from ${e.from_agent_name ?? e.from_session_thread_id}`, <div className="text">{textOf(e.content)}</div>);
    case 'agent.thread_context_compacted':
      return item('status', 'Context compacted', null);
    default:
      return null;
  }
}
