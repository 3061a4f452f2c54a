import { useCallback, useEffect, useMemo, useState } from 'react';
import type Anthropic from '@anthropic-ai/sdk';
import { costUsd, formatTime, formatUsd, isAuthError, type ConsoleConfig, type Session, type SessionEvent } from './api-client.ts';
import { StatusPill } from './status-pill.tsx';
import { usePolling } from './use-polling.ts';
import { Timeline, type Decide } from './timeline.tsx';
import { latestUsage, UsageChart } from './usage-chart.tsx';

const POLL_MS = 2000;
type Thread = { id: string; name: string; status: string; parent: string | null };
type Props = { client: Anthropic; config: ConsoleConfig; sessionId: string; navigate: (to: string) => void; onAuthError: () => void };

/** Appends the events not seen yet, keeping the first copy: history and the live stream overlap. */
const merge = (known: SessionEvent[], incoming: SessionEvent[]) => {
  const ids = new Set(known.map((e) => e.id));
  const fresh = incoming.filter((e) => !ids.has(e.id) && (ids.add(e.id), true));
  return fresh.length === 0 ? known : [...known, ...fresh];
};

/** The primary thread's events: the stream is opened first, then history listed, so nothing falls between them. */
function useSessionEvents(client: Anthropic, sessionId: string, onAuthError: () => void) {
  const [events, setEvents] = useState<SessionEvent[]>([]);
  const [live, setLive] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    const follow = async () => {
      while (!abort.signal.aborted) {
        try {
          const stream = await client.beta.sessions.events.stream(sessionId, {}, { signal: abort.signal });
          const history: SessionEvent[] = [];
          for await (const e of client.beta.sessions.events.list(sessionId, { limit: 100 }, { signal: abort.signal })) history.push(e);
          setEvents((known) => merge(known, history));
          setLive(true);
          for await (const e of stream) {
            if (e.type === 'event_start' || e.type === 'event_delta') continue;
            setEvents((known) => merge(known, [e as SessionEvent]));
          }
        } catch (error) {
          if (abort.signal.aborted) return;
          if (isAuthError(error)) return onAuthError();
        }
        setLive(false);
        // The stream ended (a server restart, a proxy's timeout): reconnect shortly.
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    };
    void follow();
    return () => abort.abort();
  }, [client, sessionId, onAuthError]);
  return { events, live };
}

export function SessionPage({ client, config, sessionId, navigate, onAuthError }: Props) {
  const [session, setSession] = useState<Session | null>(null);
  const [threads, setThreads] = useState<Thread[]>([]);
  const [threadEvents, setThreadEvents] = useState<Record<string, SessionEvent[]>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [deciding, setDeciding] = useState<ReadonlySet<string>>(new Set());
  const { events, live } = useSessionEvents(client, sessionId, onAuthError);

  usePolling(
    async (stopped) => {
      const [s, page] = await Promise.all([client.beta.sessions.retrieve(sessionId), client.beta.sessions.threads.list(sessionId, { limit: 100 })]);
      if (stopped()) return;
      setSession(s);
      const others = page.data
        .filter((t) => t.parent_thread_id !== null)
        .map((t) => ({ id: t.id, name: 'name' in t.agent && typeof t.agent.name === 'string' ? t.agent.name : t.id, status: t.status, parent: t.parent_thread_id }));
      setThreads(others);
      // Other threads' lanes are polled: a stream per thread would hold a connection each.
      const lanes = await Promise.all(
        others.map(async (t) => {
          const laneEvents: SessionEvent[] = [];
          for await (const e of client.beta.sessions.threads.events.list(t.id, { session_id: sessionId, limit: 100 })) laneEvents.push(e);
          return [t.id, laneEvents] as const;
        }),
      );
      if (!stopped()) setThreadEvents(Object.fromEntries(lanes));
    },
    [client, sessionId, onAuthError],
    { intervalMs: POLL_MS, onAuthError, onProblem: setProblem },
  );

  const decide: Decide = useCallback(
    (toolUse, result) => {
      setDeciding((d) => new Set([...d, toolUse.id]));
      const thread = 'session_thread_id' in toolUse && typeof toolUse.session_thread_id === 'string' ? { session_thread_id: toolUse.session_thread_id } : {};
      client.beta.sessions.events
        .send(sessionId, { events: [{ type: 'user.tool_confirmation', tool_use_id: toolUse.id, result, ...(result === 'deny' ? { deny_message: 'Denied in the Longhaul console' } : {}), ...thread }] })
        .catch((error: unknown) => setProblem(`Could not send the decision: ${(error as Error).message}`))
        .finally(() => setDeciding((d) => new Set([...d].filter((id) => id !== toolUse.id))));
    },
    [client, sessionId],
  );

  // A session's workflow id is its id, and a thread's (a child workflow) the thread's.
  const workflowLink = (workflowId: string) =>
    config.temporal_ui_url ? `${config.temporal_ui_url}/namespaces/${encodeURIComponent(config.temporal_namespace)}/workflows/${encodeURIComponent(workflowId)}` : null;
  const temporalLink = workflowLink(sessionId);
  const usage = latestUsage(events) ?? session?.usage;
  // Idle is also how a session waits for a decision; the last idle event says which.
  const lastIdle = events.findLast((e) => e.type === 'session.status_idle');
  const awaitingApproval = session?.status === 'idle' && lastIdle?.type === 'session.status_idle' && lastIdle.stop_reason.type === 'requires_action';
  // Every thread's model requests count toward the session's tokens.
  const allEvents = useMemo(() => [...events, ...Object.values(threadEvents).flat()], [events, threadEvents]);
  return (
    <section>
      <a
        className="back"
        href="/console/"
        onClick={(e) => {
          e.preventDefault();
          navigate('/console/');
        }}
      >
        ← Sessions
      </a>
      <div className="page-head">
        <div>
          <h1>{session?.title || 'Untitled session'}</h1>
          <div className="mono muted small">{sessionId}</div>
        </div>
        <div className="head-actions">
          {session && <StatusPill status={awaitingApproval ? 'awaiting approval' : session.status} />}
          {temporalLink && (
            <a className="button" href={temporalLink} target="_blank" rel="noreferrer">
              Open in Temporal UI ↗
            </a>
          )}
        </div>
      </div>
      {problem && <p className="error">{problem}</p>}
      {session && (
        <div className="stats">
          <Stat label="Agent" value={session.agent.name} />
          <Stat label="Model" value={typeof session.agent.model === 'string' ? session.agent.model : session.agent.model.id} />
          <Stat label="Created" value={formatTime(session.created_at)} />
          <Stat label="Input tokens" value={(usage?.input_tokens ?? 0).toLocaleString()} />
          <Stat label="Output tokens" value={(usage?.output_tokens ?? 0).toLocaleString()} />
          <Stat label="Cost" value={formatUsd(costUsd(usage))} />
        </div>
      )}
      <div className="card">
        <h2>Usage over time</h2>
        <UsageChart requests={allEvents} snapshots={events} />
      </div>
      <div className={`lanes lanes-${threads.length + 1}`}>
        <div className="lane card" data-lane="primary">
          <h2>
            {session?.agent.name ?? 'Agent'} <span className="muted small">primary thread</span>
            <span className={`live small ${live ? 'on' : ''}`} title={live ? 'Following the event stream' : 'Connecting to the event stream'}>
              {live ? '● live' : '○ connecting'}
            </span>
          </h2>
          {events.length === 0 ? <p className="muted">No events yet.</p> : <Timeline events={events} decide={decide} deciding={deciding} />}
        </div>
        {threads.map((t) => (
          <div className="lane card" key={t.id} data-lane="thread" data-thread-id={t.id}>
            <h2>
              {t.name} <StatusPill status={t.status} />
              {workflowLink(t.id) && (
                <a className="lane-link small" href={workflowLink(t.id)!} target="_blank" rel="noreferrer">
                  Temporal ↗
                </a>
              )}
            </h2>
            <Timeline events={threadEvents[t.id] ?? []} decide={decide} deciding={deciding} />
          </div>
        ))}
      </div>
    </section>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
    </div>
  );
}
