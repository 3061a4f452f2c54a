import type Anthropic from '@anthropic-ai/sdk';
import { nowMs } from './bench-model-script.ts';
import { progress, summarize } from './stats.ts';

type EventStream = Awaited<ReturnType<Anthropic['beta']['sessions']['events']['stream']>>;

/** What one session's client saw, in epoch ms of this process. */
export type SessionTimeline = {
  sessionId: string;
  createStartMs: number;
  createdMs: number;
  sendStartMs: number;
  /** Events in the log before the message was sent: the stream, already open, may carry them or not. */
  earlierIds: ReadonlySet<string>;
  /** Every event the SDK stream gave, in arrival order, duplicates kept. */
  streamed: { id: string; type: string; atMs: number }[];
  /** When the turn's `session.status_idle` came; undefined when it did not within the time allowed. */
  idleAtMs: number | undefined;
  stopReason: string | undefined;
  /** Why the stream ended early, if it did. */
  streamError: string | undefined;
};

/** Each stream against `events.list` (all pages), summed over the sessions. */
export type StreamAudit = {
  streams: number;
  /** Log events written after the message was sent that the stream never brought. */
  lost: number;
  /** Stream events that came more than once. */
  duplicated: number;
  /** Stream events that came after one the log holds later. */
  out_of_order: number;
  /** Stream events the log does not hold. */
  not_in_log: number;
  streams_exact: number;
};

export type ConcurrentRun = {
  timelines: SessionTimeline[];
  /** Compares every stream with its session's log, then closes the streams. */
  audit(): Promise<StreamAudit>;
  close(): Promise<void>;
};

const AUDIT_CATCH_UP_MS = 5000;

/**
 * Creates one session per agent, all at once, each as a careful SDK client does it:
 * `sessions.create`, open `events.stream`, then send one `user.message`; and waits until
 * every stream has brought that turn's `session.status_idle` (or `timeoutMs` passed).
 * The streams stay open for `audit()`.
 */
export async function runConcurrentSessions({
  client,
  agentIds,
  environmentId,
  timeoutMs,
  onCreated,
}: {
  client: Anthropic;
  agentIds: readonly string[];
  environmentId: string;
  timeoutMs: number;
  /** Called with each session's id as soon as it exists, so it can be cleaned up whatever happens next. */
  onCreated: (sessionId: string) => void;
}): Promise<ConcurrentRun> {
  const opened: { stream: EventStream; reader: Promise<void> }[] = [];
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (deadlineTimer = setTimeout(resolve, timeoutMs)));
  const close = async () => {
    clearTimeout(deadlineTimer);
    for (const { stream } of opened) stream.controller.abort();
    await Promise.allSettled(opened.map(({ reader }) => reader));
  };

  const runSession = async (agentId: string): Promise<SessionTimeline> => {
    const createStartMs = nowMs();
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const createdMs = nowMs();
    onCreated(session.id);
    const stream = await client.beta.sessions.events.stream(session.id);
    const timeline: SessionTimeline = { sessionId: session.id, createStartMs, createdMs, sendStartMs: Number.NaN, earlierIds: new Set(), streamed: [], idleAtMs: undefined, stopReason: undefined, streamError: undefined };
    let idled: () => void = () => {};
    const idle = new Promise<void>((resolve) => (idled = resolve));
    const reader = (async () => {
      let messageSeen = false;
      try {
        for await (const event of stream) {
          const atMs = nowMs();
          timeline.streamed.push({ id: 'id' in event ? event.id : '', type: event.type, atMs });
          if (event.type === 'user.message') messageSeen = true;
          // An idle status written before the message (the session's first) is not the turn's end.
          if (event.type === 'session.status_idle' && messageSeen && timeline.idleAtMs === undefined) {
            timeline.idleAtMs = atMs;
            timeline.stopReason = event.stop_reason.type;
            idled();
          }
        }
        if (!stream.controller.signal.aborted) timeline.streamError = 'the stream ended';
      } catch (error) {
        if (!stream.controller.signal.aborted) timeline.streamError = error instanceof Error ? error.message : String(error);
      } finally {
        idled();
      }
    })();
    opened.push({ stream, reader });
    timeline.earlierIds = new Set(await listEventIds(client, session.id));
    timeline.sendStartMs = nowMs();
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'go' }] }] });
    await Promise.race([idle, deadline]);
    return timeline;
  };

  // Settled, not all: a session that failed must not leave the others opening streams after close().
  const settled = await Promise.allSettled(agentIds.map(runSession));
  clearTimeout(deadlineTimer);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed?.status === 'rejected') {
    await close();
    throw failed.reason;
  }
  const timelines = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const audit = async () => {
    try {
      return await auditStreams(client, timelines);
    } finally {
      await close();
    }
  };
  return { timelines, audit, close };
}

/** What the client saw, in figures; `steps` counts `agent.tool_result` events. */
export function clientFigures(timelines: readonly SessionTimeline[]) {
  const firstOf = (t: SessionTimeline, type: string) => t.streamed.find((e) => e.type === type)?.atMs;
  const since = (startMs: number, atMs: number | undefined) => (atMs === undefined ? [] : [atMs - startMs]);
  const stepIntervals = timelines.flatMap((t) => {
    const results = t.streamed.filter((e) => e.type === 'agent.tool_result').map((e) => e.atMs);
    return results.slice(1).map((atMs, i) => atMs - results[i]!);
  });
  const steps = timelines.reduce((sum, t) => sum + t.streamed.filter((e) => e.type === 'agent.tool_result').length, 0);
  const idle = timelines.flatMap((t) => (t.idleAtMs === undefined ? [] : [t.idleAtMs]));
  const wallMs = Math.max(...idle) - Math.min(...timelines.map((t) => t.sendStartMs));
  return {
    steps,
    wall_ms: wallMs,
    sessions_not_idle: timelines.length - idle.length,
    sessions_not_end_turn: timelines.filter((t) => t.stopReason !== 'end_turn').length,
    session_errors: timelines.reduce((sum, t) => sum + t.streamed.filter((e) => e.type === 'session.error').length, 0),
    streams_ended_early: timelines.filter((t) => t.streamError !== undefined).length,
    step: summarize(stepIntervals),
    create_call: summarize(timelines.map((t) => t.createdMs - t.createStartMs)),
    create_to_first_event: summarize(timelines.flatMap((t) => since(t.createStartMs, t.streamed[0]?.atMs))),
    send_to_first_tool_use: summarize(timelines.flatMap((t) => since(t.sendStartMs, firstOf(t, 'agent.tool_use')))),
    send_to_first_tool_result: summarize(timelines.flatMap((t) => since(t.sendStartMs, firstOf(t, 'agent.tool_result')))),
  };
}

async function auditStreams(client: Anthropic, timelines: readonly SessionTimeline[]): Promise<StreamAudit> {
  progress(`auditing ${timelines.length} streams against events.list`);
  const audit: StreamAudit = { streams: timelines.length, lost: 0, duplicated: 0, out_of_order: 0, not_in_log: 0, streams_exact: 0 };
  const logs = await Promise.all(timelines.map((t) => listEventIds(client, t.sessionId)));
  // The log may have taken an event after the idle status just now: give each stream the time to bring it.
  const caughtUpBy = nowMs() + AUDIT_CATCH_UP_MS;
  for (const [index, timeline] of timelines.entries()) {
    const log = logs[index]!;
    const last = log.at(-1);
    while (last !== undefined && !timeline.streamed.some((e) => e.id === last) && nowMs() < caughtUpBy) await new Promise((r) => setTimeout(r, 50));
    const found = compareStreamWithLog({ streamed: timeline.streamed.map((e) => e.id), log, earlierIds: timeline.earlierIds });
    audit.lost += found.lost;
    audit.duplicated += found.duplicated;
    audit.out_of_order += found.outOfOrder;
    audit.not_in_log += found.notInLog;
    if (found.lost + found.duplicated + found.outOfOrder + found.notInLog === 0) audit.streams_exact += 1;
  }
  return audit;
}

/** One stream's ids against its log's: the log events after `earlierIds` must all come, once, in the log's order. */
export function compareStreamWithLog({ streamed, log, earlierIds }: { streamed: readonly string[]; log: readonly string[]; earlierIds: ReadonlySet<string> }) {
  const position = new Map(log.map((id, index) => [id, index]));
  const seen = new Set<string>();
  let duplicated = 0;
  let outOfOrder = 0;
  let notInLog = 0;
  let furthest = -1;
  for (const id of streamed) {
    if (seen.has(id)) {
      duplicated += 1;
      continue;
    }
    seen.add(id);
    const at = position.get(id);
    if (at === undefined) notInLog += 1;
    else if (at < furthest) outOfOrder += 1;
    else furthest = at;
  }
  const lost = log.filter((id) => !earlierIds.has(id) && !seen.has(id)).length;
  return { lost, duplicated, outOfOrder, notInLog };
}

async function listEventIds(client: Anthropic, sessionId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const event of client.beta.sessions.events.list(sessionId, { limit: 100 })) ids.push(event.id);
  return ids;
}
