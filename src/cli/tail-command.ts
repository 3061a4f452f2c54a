/**
 * `longhaul sessions tail <id>`: a session's events so far, then live, rendered as
 * `longhaul run` renders them, until the session goes idle (other than to wait for a tool
 * decision) or ends — or for good with `--follow`. A dropped stream is reopened after the
 * last event shown (`Last-Event-ID`), so nothing is missed and nothing printed twice.
 */
import { APIError } from '@anthropic-ai/sdk';
import { connectApi, type ApiConnectionFlags } from './api-connection.ts';
import { CliError } from './cli-error.ts';
import type { Terminal } from './output.ts';
import { createEventRenderer, type RunEnd, type StreamEvent } from './render-event.ts';
import { cliErrorOf, withApiErrors } from './run-command.ts';

export type TailFlags = ApiConnectionFlags & { follow?: boolean; json?: boolean };

/** Reconnects in a row, without an event in between, before tail gives up. */
const MAX_RECONNECTS = 5;

export async function runTail({ sessionId, flags, terminal }: { sessionId: string; flags: TailFlags; terminal: Terminal }): Promise<number> {
  const { client, baseURL } = await connectApi({ flags });
  const renderer = createEventRenderer();
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.on('SIGINT', onSigint);
  let lastEventId: string | undefined;
  const seen = new Set<string>();
  /** Prints an event once and says whether it ends the tail. */
  const show = (event: StreamEvent): RunEnd | undefined => {
    const id = 'id' in event && typeof event.id === 'string' ? event.id : undefined;
    if (id !== undefined) {
      if (seen.has(id)) return undefined;
      seen.add(id);
      lastEventId = id;
    }
    const rendered = renderer.render(event);
    if (flags.json) terminal.raw(JSON.stringify(event));
    else terminal.print(rendered.lines);
    return rendered.end && endsTail(rendered.end) && !flags.follow ? rendered.end : undefined;
  };
  try {
    // The stream before the log: it is live from when it connects, so opened second it could
    // miss what happens between the two. Events in both are shown once (by id).
    let stream: AsyncIterable<StreamEvent> | undefined = await withApiErrors(baseURL, () => client.beta.sessions.events.stream(sessionId, {}, { signal: controller.signal }));
    const history = await withApiErrors(baseURL, async () => {
      const events: StreamEvent[] = [];
      for await (const event of client.beta.sessions.events.list(sessionId, { limit: 1000 }, { signal: controller.signal })) events.push(event as StreamEvent);
      return events;
    });
    let pending: RunEnd | undefined;
    for (const event of history) {
      const end = show(event);
      // Only the log's last turn decides: an earlier turn's idle is followed by the next turn's start.
      if (end) pending = end;
      else if (event.type === 'user.message' || event.type === 'session.status_running') pending = undefined;
    }
    if (pending) {
      controller.abort();
      return exitCodeOf(pending);
    }
    terminal.note(`following ${sessionId}${flags.follow ? '' : ' until it goes idle'} (Ctrl-C stops)`);

    let failures = 0;
    while (!controller.signal.aborted) {
      try {
        if (stream === undefined) {
          // Reopened after the last event shown: the server sends what came after it, then live events.
          const headers = lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId };
          stream = await client.beta.sessions.events.stream(sessionId, {}, { signal: controller.signal, headers });
        }
        for await (const event of stream) {
          failures = 0;
          const end = show(event);
          if (end) {
            controller.abort();
            return exitCodeOf(end);
          }
        }
      } catch (error) {
        if (controller.signal.aborted) break;
        // A refusal (unknown session, bad key) will not heal on a retry; say it as the other commands do.
        if (error instanceof APIError && error.status !== undefined && error.status >= 400 && error.status < 500 && ![408, 409, 429].includes(error.status)) {
          throw cliErrorOf(baseURL, error);
        }
      }
      stream = undefined;
      failures += 1;
      if (failures > MAX_RECONNECTS) throw new CliError(`lost the event stream of ${sessionId} and could not reconnect after ${MAX_RECONNECTS} tries`);
      terminal.note(`(event stream dropped; reconnecting after ${lastEventId ?? 'the start'})`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** failures, 5000)));
    }
    terminal.error('stopped watching; the session goes on');
    return 130;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** An idle waiting for a tool decision is not the end: someone may decide, and the agent goes on. */
function endsTail(end: RunEnd): boolean {
  return !(end.kind === 'idle' && end.stopReason.type === 'requires_action');
}

function exitCodeOf(end: RunEnd): number {
  return end.kind === 'idle' && end.stopReason.type === 'end_turn' ? 0 : 1;
}
