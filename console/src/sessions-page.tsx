import { useEffect, useState } from 'react';
import type Anthropic from '@anthropic-ai/sdk';
import { costUsd, formatTime, formatUsd, type Session } from './api-client.ts';
import { StatusPill } from './status-pill.tsx';
import { usePolling } from './use-polling.ts';

const STATUSES = ['running', 'idle', 'rescheduling', 'terminated'] as const;
type Status = (typeof STATUSES)[number];
const REFRESH_MS = 2000;
/** The list API's largest page: the list shows one, newest first. */
const PAGE_SIZE = 100;

type Agent = { id: string; name: string };

/** Every session with status, agent and cost, refreshed while the page is open; filters are the list API's own. */
export function SessionsPage({ client, navigate, onAuthError }: { client: Anthropic; navigate: (to: string) => void; onAuthError: () => void }) {
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [agents, setAgents] = useState<Agent[]>([]);
  const [status, setStatus] = useState<Status | ''>('');
  const [agentId, setAgentId] = useState('');
  const [archived, setArchived] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    client.beta.agents
      .list({ limit: 100 })
      .then((page) => setAgents(page.data.map((a) => ({ id: a.id, name: a.name }))))
      .catch(() => {});
  }, [client]);

  usePolling(
    async (stopped) => {
      const page = await client.beta.sessions.list({ limit: PAGE_SIZE, ...(status ? { statuses: [status] } : {}), ...(agentId ? { agent_id: agentId } : {}), include_archived: archived });
      if (!stopped()) setSessions(page.data);
    },
    [client, status, agentId, archived, onAuthError],
    { intervalMs: REFRESH_MS, onAuthError, onProblem: setProblem },
  );

  const total = sessions?.reduce((sum, s) => sum + (costUsd(s.usage) ?? 0), 0) ?? 0;
  return (
    <section>
      <div className="page-head">
        <h1>Sessions</h1>
        <div className="filters">
          <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value as Status | '')}>
            <option value="">All statuses</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          <select aria-label="Agent" value={agentId} onChange={(e) => setAgentId(e.target.value)}>
            <option value="">All agents</option>
            {agents.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
          <label className="check">
            <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> archived
          </label>
        </div>
      </div>
      {problem && <p className="error">{problem}</p>}
      <div className="card table-card">
        <table className="sessions">
          <thead>
            <tr>
              <th>Session</th>
              <th>Agent</th>
              <th>Status</th>
              <th>Created</th>
              <th className="num">Tokens in / out</th>
              <th className="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {sessions === null ? (
              <tr>
                <td colSpan={6} className="muted">
                  Loading…
                </td>
              </tr>
            ) : sessions.length === 0 ? (
              <tr>
                <td colSpan={6} className="muted">
                  No sessions yet.
                </td>
              </tr>
            ) : (
              sessions.map((s) => (
                <tr
                  key={s.id}
                  data-session-id={s.id}
                  className="row-link"
                  onClick={() => navigate(`/console/sessions/${s.id}`)}
                >
                  <td>
                    <a
                      href={`/console/sessions/${s.id}`}
                      onClick={(e) => {
                        e.preventDefault();
                        navigate(`/console/sessions/${s.id}`);
                      }}
                    >
                      {s.title || 'Untitled session'}
                    </a>
                    <div className="mono muted small">{s.id}</div>
                  </td>
                  <td>{s.agent.name}</td>
                  <td>
                    <StatusPill status={s.status} />
                  </td>
                  <td className="muted">{formatTime(s.created_at)}</td>
                  <td className="num mono">
                    {(s.usage.input_tokens ?? 0).toLocaleString()} / {(s.usage.output_tokens ?? 0).toLocaleString()}
                  </td>
                  <td className="num mono">{formatUsd(costUsd(s.usage))}</td>
                </tr>
              ))
            )}
          </tbody>
          {sessions && sessions.length > 0 && (
            <tfoot>
              <tr>
                <td colSpan={5} className="muted">
                  {sessions.length === PAGE_SIZE ? `The newest ${PAGE_SIZE} sessions; narrow the filters to see others` : `${sessions.length} session${sessions.length === 1 ? '' : 's'}`}
                </td>
                <td className="num mono">{formatUsd(total)}</td>
              </tr>
            </tfoot>
          )}
        </table>
      </div>
    </section>
  );
}
