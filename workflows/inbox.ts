import { DEFAULT_OUTCOME_ITERATIONS } from '../src/core/outcomes.ts';
import type { InboundEvent, InboundUserEvent, WorkflowEvent } from './contract.ts';
import type { SessionLoop } from './session-loop.ts';

/**
 * The inbox: user events in (signals queue them in `state.inbox`), and out into the log
 * as the loop takes them. Each event keeps the key its sender chose, so the id the API
 * answered with is the id it gets in the log.
 */

/** Turns inbox user events into events to persist (and transcript items for messages). */
export function drainInbox(loop: SessionLoop): { events: WorkflowEvent[]; messages: number; interrupts: number } {
  const { state } = loop;
  const drained = state.inbox.splice(0, state.inbox.length);
  const events: WorkflowEvent[] = [];
  let messages = 0;
  let interrupts = 0;
  for (const user of drained) {
    const key = user.key ?? loop.nextKey(user.type);
    switch (user.type) {
      case 'user.message':
        messages += 1;
        events.push({ key, event: { type: 'user.message', content: user.content }, transcript: { kind: 'user', content: user.content } });
        break;
      case 'user.interrupt':
        interrupts += 1;
        events.push(interruptEvent(user, key));
        break;
      case 'system.message':
        events.push({ key, event: { type: 'system.message', content: user.content }, transcript: { kind: 'system', content: user.content } });
        break;
      case 'thread.message':
        // A delegation or follow-up: the thread's next turn works on it.
        messages += 1;
        state.spentElsewhereNanos = user.spentElsewhereNanos ?? state.spentElsewhereNanos;
        events.push(threadMessageEvent(key, user.from_thread_id, user.from_agent_name, user.text, user.text));
        break;
      case 'thread.report': {
        // A thread's answer wakes its starter like a user message would; one cut short by an
        // interrupt is news only to a starter still waiting for it (an interrupt of everything idles it too).
        if (!user.interrupted || state.turnActive) messages += 1;
        const child = state.threads?.[user.thread_id];
        if (child) Object.assign(child, { status: user.terminated ? 'terminated' : 'idle', usage: user.usage, costNanos: user.costNanos });
        const said = `[Message from thread ${user.thread_id} (agent ${user.agent_name})]\n${user.text || '(the thread ended its turn without a text answer)'}`;
        events.push(threadMessageEvent(key, user.thread_id, user.agent_name, user.text, said));
        break;
      }
      case 'user.define_outcome':
        // The agent begins work on it at once; a newer outcome replaces one still open.
        messages += 1;
        state.outcome = { id: user.outcome_id, description: user.description, rubric: user.rubric, maxIterations: user.max_iterations ?? DEFAULT_OUTCOME_ITERATIONS, iteration: 0 };
        events.push({
          key,
          event: { type: 'user.define_outcome', description: user.description, rubric: user.rubric, max_iterations: state.outcome.maxIterations, outcome_id: user.outcome_id },
          transcript: { kind: 'user', content: [{ type: 'text', text: outcomeTask(user.description) }] },
        });
        break;
      default:
        // A confirmation or result for a call that no longer waits (answered twice, or interrupted): logged only.
        events.push({ key, event: resolutionEvent(user) });
    }
  }
  return { events, messages, interrupts };
}

/**
 * Takes only the interrupts out of the inbox (to echo them as the turn ends);
 * messages stay, so "stop, do this instead" starts the next turn at once.
 */
export function drainInterrupts(loop: SessionLoop): WorkflowEvent[] {
  const { state } = loop;
  const interrupts = state.inbox.filter((e) => e.type === 'user.interrupt');
  state.inbox = state.inbox.filter((e) => e.type !== 'user.interrupt');
  return interrupts.map((user) => interruptEvent(user, user.key ?? loop.nextKey(user.type)));
}

/** Takes the inbox's answers to the given waiting calls (confirmations, custom and self-hosted tool results), in order. */
export function takeAnswers(loop: SessionLoop, resolves: (e: InboundEvent) => boolean): InboundEvent[] {
  const answers = loop.state.inbox.filter(resolves);
  loop.state.inbox = loop.state.inbox.filter((e) => !resolves(e));
  return answers;
}

/** Puts recorded-to-be events back into the inbox, first, so the next turn (or run) delivers them. */
export function requeue(loop: SessionLoop, events: readonly WorkflowEvent[]): void {
  loop.state.inbox.unshift(...userEventsOf(loop, events));
}

function threadMessageEvent(key: string, fromThreadId: string, fromAgentName: string, text: string, modelText: string): WorkflowEvent {
  return {
    key,
    event: { type: 'agent.thread_message_received', from_session_thread_id: fromThreadId, from_agent_name: fromAgentName, content: [{ type: 'text', text }] },
    transcript: { kind: 'user', content: [{ type: 'text', text: modelText }] },
  };
}

function interruptEvent(user: InboundEvent, key: string): WorkflowEvent {
  const thread = user.type === 'user.interrupt' ? user.session_thread_id : undefined;
  return { key, event: { type: 'user.interrupt', ...(thread ? { session_thread_id: thread } : {}) } };
}

/** The logged form of a client's answer (its routing key stripped). */
export function resolutionEvent(user: InboundEvent): WorkflowEvent['event'] {
  const { key: _key, ...event } = user;
  return event;
}

/** What the agent is told of an outcome: the task, and that its work will be checked (the rubric is the grader's). */
function outcomeTask(description: string): string {
  return `${description}\n\n(When you finish, an independent grader checks your work against a rubric and may send you back to revise it.)`;
}

const CLIENT_EVENT_TYPES = new Set(['user.message', 'user.interrupt', 'system.message', 'user.tool_confirmation', 'user.custom_tool_result', 'user.tool_result', 'user.define_outcome']);

function userEventsOf(loop: SessionLoop, events: readonly WorkflowEvent[]): InboundEvent[] {
  return events.flatMap((e): InboundEvent[] => {
    if (CLIENT_EVENT_TYPES.has(e.event.type)) return [{ ...e.event, key: e.key } as InboundUserEvent];
    if (e.event.type === 'agent.thread_message_received') return [threadEventOf(loop, e)];
    return [];
  });
}

/** A taken thread message, back as it arrived: a report of a thread this one started, or a message from its starter. */
function threadEventOf(loop: SessionLoop, e: WorkflowEvent): InboundEvent {
  const event = e.event as unknown as { from_session_thread_id: string; from_agent_name: string; content: { text: string }[] };
  const from = event.from_session_thread_id;
  const text = event.content[0]?.text ?? '';
  const child = loop.state.threads?.[from];
  // The report's numbers were taken already; taking them again changes nothing.
  if (child) return { type: 'thread.report', thread_id: from, agent_name: event.from_agent_name, text, usage: child.usage, costNanos: child.costNanos, key: e.key, ...(child.status === 'terminated' ? { terminated: true } : {}) };
  return { type: 'thread.message', from_thread_id: from, from_agent_name: event.from_agent_name, text, key: e.key };
}
