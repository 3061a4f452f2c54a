import type { RosterMember } from '../schemas/agent.ts';
import type { ModelToolDefinition } from './agent-toolset.ts';

/**
 * The tools a coordinator's model delegates with. Each call is handled by the workflow
 * itself (a thread is a child workflow), never by a sandbox or a client. Results are
 * not polled for: when a thread finishes its work, its answer arrives in the
 * coordinator's context as a message from that thread, and a coordinator that ends
 * its turn while threads still work waits for them.
 */
export const DELEGATE_TOOL = 'delegate_to_agent';
export const MESSAGE_THREAD_TOOL = 'message_thread';
export const DELEGATION_TOOLS: ReadonlySet<string> = new Set([DELEGATE_TOOL, MESSAGE_THREAD_TOOL]);

/** Most threads one session may start, its primary's and every thread's together. */
export const MAX_THREADS_PER_SESSION = 25;
/** Deepest a thread may start threads: only a roster with `self` gets past depth 1. */
export const MAX_THREAD_DEPTH = 3;

/**
 * What a delegation tool call asks for, as the workflow acts on it. A start the model
 * call accepted carries the new thread's id: the call checked the roster, the depth and
 * the session's limit, and reserved the thread in the store.
 */
export type DelegationCall =
  | { type: 'start'; agent: string; message: string; threadId?: string | undefined }
  | { type: 'follow_up'; threadId: string; message: string }
  | { type: 'invalid'; error: string };

/** Longest delegation message a call may carry (it travels in the workflow's history). */
export const MAX_DELEGATION_MESSAGE_CHARS = 100_000;

export function delegationTools(roster: readonly RosterMember[]): ModelToolDefinition[] {
  const names = roster.map((m) => m.name);
  const menu = roster.map((m) => `- ${m.name}${m.description ? `: ${m.description}` : ''}`).join('\n');
  return [
    {
      name: DELEGATE_TOOL,
      description:
        'Start a new thread in which another agent works on a task, in parallel with you, in the same sandbox and /workspace. ' +
        'Returns the thread id at once. The agent\'s final answer arrives later as a message from that thread; keep working meanwhile, ' +
        'or end your turn to wait for every thread you started. Agents you can start:\n' +
        menu,
      input_schema: {
        type: 'object',
        properties: {
          agent: { type: 'string', enum: names, description: 'Name of the agent to start.' },
          message: { type: 'string', description: 'The task: everything the agent needs to know, as it sees nothing of your conversation.' },
        },
        required: ['agent', 'message'],
      },
    },
    {
      name: MESSAGE_THREAD_TOOL,
      description:
        'Send a follow-up message to a thread you started. The thread keeps its history; its answer arrives later as a message from it, like the first.',
      input_schema: {
        type: 'object',
        properties: {
          thread_id: { type: 'string', description: 'The thread id that delegate_to_agent returned.' },
          message: { type: 'string', description: 'The follow-up.' },
        },
        required: ['thread_id', 'message'],
      },
    },
  ];
}

/** Reads a delegation call's input; what cannot be acted on becomes an error for the model. */
export function parseDelegation(name: string, input: Record<string, unknown>): DelegationCall {
  const message = input['message'];
  if (typeof message !== 'string' || message.trim() === '') return { type: 'invalid', error: 'message must be a non-empty string' };
  if (message.length > MAX_DELEGATION_MESSAGE_CHARS) return { type: 'invalid', error: `message is longer than ${MAX_DELEGATION_MESSAGE_CHARS} characters; put long material in a file under /workspace and point to it` };
  if (name === DELEGATE_TOOL) {
    const agent = input['agent'];
    if (typeof agent !== 'string' || agent === '') return { type: 'invalid', error: 'agent must name an agent' };
    return { type: 'start', agent, message };
  }
  const threadId = input['thread_id'];
  if (typeof threadId !== 'string' || threadId === '') return { type: 'invalid', error: 'thread_id must be a thread id' };
  return { type: 'follow_up', threadId, message };
}

/** Why a thread at `depth` (0: the primary) may not start one more, if it may not. */
export function depthRefusal(depth: number): string | undefined {
  return depth + 1 > MAX_THREAD_DEPTH ? `Threads may not be nested deeper than ${MAX_THREAD_DEPTH}: do this work yourself.` : undefined;
}

export const THREAD_LIMIT_REFUSAL = `This session has ${MAX_THREADS_PER_SESSION} threads, the most it may: send follow-ups to the threads you have (message_thread), or do the work yourself.`;

export function unknownAgentRefusal(agent: string, roster: readonly RosterMember[]): string {
  return `No agent named ${agent} can be started. Agents you can start: ${roster.map((m) => m.name).join(', ')}.`;
}

/** The roster member a start call names (by name, or by agent id). */
export function rosterMemberFor(roster: readonly RosterMember[], agent: string): RosterMember | undefined {
  return roster.find((m) => m.name === agent) ?? roster.find((m) => m.agent_id === agent);
}
