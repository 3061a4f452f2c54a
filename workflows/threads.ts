import { ParentClosePolicy, getExternalWorkflowHandle, log, startChild, workflowInfo } from '@temporalio/workflow';
import { rosterMemberFor, unknownAgentRefusal, type DelegationCall } from '../src/core/delegation.ts';
import { zeroUsage } from '../src/core/usage.ts';
import {
  THREAD_WORKFLOW,
  settingsSignal,
  terminateSignal,
  threadEventsSignal,
  userEventsSignal,
  type InboundThreadMessage,
  type SessionSettings,
  type SessionWorkflowInput,
  type ToolUseRef,
  type WorkflowEvent,
} from './contract.ts';
import type { StopReason } from '../src/schemas/events.ts';
import type { SessionLoop } from './session-loop.ts';

/**
 * Threads: each is a child workflow (its id is the thread's `sthr_` id) running the same
 * agent loop as the session, on its own log and transcript, in the session's sandbox.
 * This module is the starter's side (delegation calls, forwarding interrupts and ends)
 * and the thread's side (its first events, its report back).
 */

/**
 * Acts on a step's delegation calls: starts threads and sends follow-ups. Returns the
 * events that record them: each call's `agent.thread_message_sent` and its tool result.
 */
export async function runDelegations(loop: SessionLoop, refs: readonly ToolUseRef[]): Promise<WorkflowEvent[]> {
  const events: WorkflowEvent[] = [];
  for (const ref of refs) {
    const call = ref.delegation;
    try {
      if (call === undefined || call.type === 'invalid') throw new DelegationRefused(call?.error ?? 'this call could not be read');
      const threadId = call.type === 'start' ? await startThread(loop, call, ref) : await followUp(loop, call.threadId, call.message, ref);
      const child = loop.state.threads![threadId]!;
      // A new thread records the message it was sent itself, after its creation; a follow-up's is recorded here.
      if (call.type === 'follow_up') events.push(sentEvent(sentKeyOf(ref), threadId, child.agentName, call.message));
      events.push(
        toolResult(
          ref,
          call.type === 'start'
            ? `Started thread ${threadId} (agent ${child.agentName}). Its answer will arrive as a message from that thread; keep working meanwhile, or end your turn to wait for it.`
            : `Sent to thread ${threadId} (agent ${child.agentName}). Its answer will arrive as a message from that thread.`,
          false,
        ),
      );
    } catch (err) {
      if (!(err instanceof DelegationRefused)) throw err;
      events.push(toolResult(ref, err.message, true));
    }
  }
  return events;
}

/** Starts the thread the model call checked and reserved (its id came with the call). */
async function startThread(loop: SessionLoop, call: Extract<DelegationCall, { type: 'start' }>, ref: ToolUseRef): Promise<string> {
  const roster = loop.input.agent.roster ?? [];
  const member = rosterMemberFor(roster, call.agent);
  if (member === undefined) throw new DelegationRefused(unknownAgentRefusal(call.agent, roster));
  const { threadId, message } = call;
  if (threadId === undefined) throw new DelegationRefused('This thread could not be started; try again.');
  const parentThreadId = loop.threadId()!;
  const depth = (loop.thread?.depth ?? 0) + 1;
  const threads = (loop.state.threads ??= {});
  const input: SessionWorkflowInput = {
    sessionId: loop.sessionId,
    storeId: loop.input.storeId,
    // The roster's own entry runs the coordinator, roster and all: it may delegate in turn.
    agent: member.self ? loop.agent : member.definition,
    environment: loop.input.environment,
    ...loop.vaults(),
    budget: loop.state.budget ?? null,
    tuning: loop.input.tuning,
    primaryThreadId: loop.input.primaryThreadId,
    thread: { id: threadId, parentThreadId, parentWorkflowId: workflowInfo().workflowId, agentName: member.name, agentId: member.agent_id, agentVersion: member.version, depth },
    initialEvents: [threadMessage(loop, parentThreadId, ref, message, 0)],
  };
  try {
    // Abandoned, not terminated, when this run closes: a continue-as-new closes it too, and threads outlive that.
    await startChild(THREAD_WORKFLOW, { workflowId: threadId, args: [input], parentClosePolicy: ParentClosePolicy.ABANDON });
  } catch (err) {
    // A thread id already taken (a model that repeats a tool call id) starts nothing.
    if (!(err instanceof Error) || err.name !== 'WorkflowExecutionAlreadyStartedError') throw err;
    throw new DelegationRefused(`This call could not start a thread: ${err.message}`);
  }
  threads[threadId] = { agentName: member.name, status: 'running', usage: zeroUsage(), costNanos: 0 };
  return threadId;
}

async function followUp(loop: SessionLoop, threadId: string, message: string, ref: ToolUseRef): Promise<string> {
  const child = loop.state.threads?.[threadId];
  if (child === undefined) throw new DelegationRefused(`There is no thread ${threadId} that you started.`);
  if (child.status === 'terminated') throw new DelegationRefused(`Thread ${threadId} has ended (archived or terminated): start a new one.`);
  await getExternalWorkflowHandle(threadId).signal(threadEventsSignal, [threadMessage(loop, loop.threadId()!, ref, message, child.costNanos)]);
  child.status = 'running';
  return threadId;
}

function threadMessage(loop: SessionLoop, fromThreadId: string, ref: ToolUseRef, text: string, childCostNanos: number): InboundThreadMessage {
  // What the rest of the session spent: everything this thread knows of, less the receiver's own.
  const spentElsewhereNanos = loop.spentSoFar().costNanos + (loop.state.spentElsewhereNanos ?? 0) - childCostNanos;
  return {
    type: 'thread.message',
    from_thread_id: fromThreadId,
    from_agent_name: loop.thread?.agentName ?? loop.input.agent.name,
    text,
    spentElsewhereNanos,
    sentKey: sentKeyOf(ref),
    key: `from:${fromThreadId}:${ref.toolUseId}`,
  };
}

const sentKeyOf = (ref: ToolUseRef) => `tool:${ref.toolUseId}:sent`;

function sentEvent(key: string, threadId: string, agentName: string, text: string): { key: string; event: WorkflowEvent['event'] } {
  return { key, event: { type: 'agent.thread_message_sent', to_session_thread_id: threadId, to_agent_name: agentName, content: [{ type: 'text', text }] } };
}

/** Whether a thread this one started is still working: its starter waits for it before idling. */
export function hasRunningThreads(loop: SessionLoop): boolean {
  return Object.values(loop.state.threads ?? {}).some((c) => c.status === 'running');
}

/** Passes an interrupt for every thread on to the threads this one started that are working. */
export function forwardInterrupt(loop: SessionLoop): void {
  for (const [threadId, child] of Object.entries(loop.state.threads ?? {})) {
    if (child.status !== 'running') continue;
    void getExternalWorkflowHandle(threadId)
      .signal(userEventsSignal, [{ type: 'user.interrupt' }])
      .catch((err: unknown) => log.warn('could not pass an interrupt on to a thread', { threadId, error: String(err) }));
  }
}

/** Passes new settings (budget, vaults) on to the threads this one started: they hold the session's. */
export function forwardSettings(loop: SessionLoop, settings: SessionSettings): void {
  for (const [threadId, child] of Object.entries(loop.state.threads ?? {})) {
    if (child.status === 'terminated') continue;
    void getExternalWorkflowHandle(threadId)
      .signal(settingsSignal, settings)
      .catch((err: unknown) => log.warn('could not pass settings on to a thread', { threadId, error: String(err) }));
  }
}

/** Ends every thread this one started (the session is ending); each records its own termination. */
export async function terminateThreads(loop: SessionLoop): Promise<void> {
  await Promise.all(
    Object.entries(loop.state.threads ?? {}).map(async ([threadId, child]) => {
      if (child.status === 'terminated') return;
      child.status = 'terminated';
      // A delete removes the threads' records too: each purges its own log as it ends, after its last write.
      await getExternalWorkflowHandle(threadId)
        .signal(terminateSignal, loop.removal)
        .catch((err: unknown) => log.warn('could not end a thread', { threadId, error: String(err) }));
    }),
  );
}

/**
 * A thread's first events: its creation, in its own log and the session's, then the
 * message its starter sent it, in the starter's log. Written by the thread with its first
 * turn, so on every stream the creation comes before all else of it. (Its record was
 * written by its starter, which reserved it within the session's limit.)
 */
export function threadCreatedEvents(loop: SessionLoop): WorkflowEvent[] {
  const thread = loop.thread!;
  const event = { type: 'session.thread_created', session_thread_id: thread.id, agent_name: thread.agentName, workflow_run_id: null };
  const events: WorkflowEvent[] = [
    { key: 'thread:created', event },
    { key: `thread:${thread.id}:created`, event, log: loop.sessionId },
  ];
  // The starter's log is its workflow's id: the session's, or its thread's.
  for (const message of loop.input.initialEvents ?? []) {
    if (message.type === 'thread.message' && message.sentKey) events.push({ ...sentEvent(message.sentKey, thread.id, thread.agentName, message.text), log: thread.parentWorkflowId });
  }
  return events;
}

/**
 * Tells the thread's starter that its turn ended, with its last answer: the starter takes
 * it like a user message. A thread that ended for another reason says so.
 */
export async function reportToParent(
  loop: SessionLoop,
  stopReason: StopReason,
  { terminated = false, interrupted = false }: { terminated?: boolean; interrupted?: boolean } = {},
): Promise<void> {
  const thread = loop.thread!;
  const said = loop.lastAnswerText;
  const why = terminated ? 'the thread was ended before it answered' : interrupted ? 'the thread was interrupted' : stopReason.type === 'end_turn' ? undefined : `the thread stopped: ${stopReason.type}`;
  const text = why === undefined ? said : `(${why})${said ? `\n${said}` : ''}`;
  const { usage, costNanos } = loop.spentSoFar();
  await getExternalWorkflowHandle(thread.parentWorkflowId)
    .signal(threadEventsSignal, [{ type: 'thread.report', thread_id: thread.id, agent_name: thread.agentName, text, usage, costNanos, key: `report:${thread.id}:${loop.state.emitCounter}`, ...(terminated ? { terminated } : {}), ...(interrupted ? { interrupted } : {}) }])
    .catch((err: unknown) => log.warn('could not report to the thread that started this one', { threadId: thread.id, error: String(err) }));
}

function toolResult(ref: ToolUseRef, text: string, isError: boolean): WorkflowEvent {
  const content = [{ type: 'text' as const, text }];
  return {
    key: `tool:${ref.toolUseId}:result`,
    event: { type: 'agent.tool_result', tool_use_id: ref.eventId, content, is_error: isError },
    transcript: { kind: 'tool_result', tool_use_id: ref.toolUseId, content, is_error: isError },
  };
}

class DelegationRefused extends Error {}
