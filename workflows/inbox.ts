import type { InboundUserEvent, WorkflowEvent } from './contract.ts';
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

/** Takes the inbox's answers to the given waiting calls (confirmations, custom tool results), in order. */
export function takeAnswers(loop: SessionLoop, resolves: (e: InboundUserEvent) => boolean): InboundUserEvent[] {
  const answers = loop.state.inbox.filter(resolves);
  loop.state.inbox = loop.state.inbox.filter((e) => !resolves(e));
  return answers;
}

/** Puts recorded-to-be events back into the inbox, first, so the next turn (or run) delivers them. */
export function requeue(loop: SessionLoop, events: readonly WorkflowEvent[]): void {
  loop.state.inbox.unshift(...userEventsOf(events));
}

function interruptEvent(user: InboundUserEvent, key: string): WorkflowEvent {
  const thread = user.type === 'user.interrupt' ? user.session_thread_id : undefined;
  return { key, event: { type: 'user.interrupt', ...(thread ? { session_thread_id: thread } : {}) } };
}

/** The logged form of a client's answer (its routing key stripped). */
export function resolutionEvent(user: InboundUserEvent): WorkflowEvent['event'] {
  const { key: _key, ...event } = user;
  return event;
}

const CLIENT_EVENT_TYPES = new Set(['user.message', 'user.interrupt', 'system.message', 'user.tool_confirmation', 'user.custom_tool_result']);

function userEventsOf(events: readonly WorkflowEvent[]): InboundUserEvent[] {
  return events.flatMap((e): InboundUserEvent[] => (CLIENT_EVENT_TYPES.has(e.event.type) ? [{ ...e.event, key: e.key } as InboundUserEvent] : []));
}
