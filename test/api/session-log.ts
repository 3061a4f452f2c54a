import type Anthropic from '@anthropic-ai/sdk';
import type { BetaManagedAgentsSessionEvent } from '@anthropic-ai/sdk/resources/beta/sessions/events';

export type LoggedEvent = BetaManagedAgentsSessionEvent;

/** Every event of the session, through the SDK's auto-paginating `events.list`. */
export async function sessionLog(client: Anthropic, sessionId: string): Promise<LoggedEvent[]> {
  const events: LoggedEvent[] = [];
  for await (const event of client.beta.sessions.events.list(sessionId, { limit: 100 })) events.push(event);
  return events;
}

/**
 * Polls the log through the SDK until `predicate` holds for it; returns the log.
 * `count` asks for the n-th matching event (1-based) when the same kind recurs.
 */
export async function waitForEvent(
  client: Anthropic,
  sessionId: string,
  predicate: (event: LoggedEvent) => boolean,
  { count = 1, timeoutMs = 60_000 }: { count?: number; timeoutMs?: number } = {},
): Promise<LoggedEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await sessionLog(client, sessionId);
    if (events.filter(predicate).length >= count) return events;
    if (Date.now() > deadline) throw new Error(`timed out waiting for an event; the log has: ${events.map((e) => e.type).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const idleWith =
  (stopReason: string) =>
  (event: LoggedEvent): boolean =>
    event.type === 'session.status_idle' && event.stop_reason.type === stopReason;

export const userText = (text: string) => ({ type: 'user.message' as const, content: [{ type: 'text' as const, text }] });
