import { dollarsOf, type SessionEvent } from './api-client.ts';

type Point = { at: number; tokens: number; costUsd: number | null };

/**
 * Cumulative tokens (from each model request's usage, in every thread) and list cost
 * (from the session's own usage snapshots; a thread's snapshots count only that thread)
 * over time, drawn as plain SVG from the events.
 */
export function usagePoints({ requests, snapshots }: { requests: SessionEvent[]; snapshots: SessionEvent[] }): Point[] {
  const moments = [...requests.filter((e) => e.type === 'span.model_request_end'), ...snapshots.filter((e) => e.type === 'session.usage')].sort(
    (a, b) => Date.parse(a.processed_at ?? '') - Date.parse(b.processed_at ?? ''),
  );
  const points: Point[] = [];
  let tokens = 0;
  let costUsd: number | null = null;
  for (const e of moments) {
    if (e.type === 'span.model_request_end') {
      tokens += e.model_usage.input_tokens + e.model_usage.output_tokens + e.model_usage.cache_read_input_tokens + e.model_usage.cache_creation_input_tokens;
    } else if (e.type === 'session.usage' && e.usage.list_cost?.currency === 'USD') {
      costUsd = dollarsOf(e.usage.list_cost);
    }
    points.push({ at: Date.parse(e.processed_at ?? ''), tokens, costUsd });
  }
  return points;
}

const W = 1100;
const H = 170;
const PAD = 36;

/** The newest usage snapshot among the events: fresher than the session resource between two polls. */
export function latestUsage(events: SessionEvent[]) {
  const snapshot = events.findLast((e) => e.type === 'session.usage');
  return snapshot?.type === 'session.usage' ? snapshot.usage : undefined;
}

export function UsageChart({ requests, snapshots }: { requests: SessionEvent[]; snapshots: SessionEvent[] }) {
  const points = usagePoints({ requests, snapshots });
  if (points.length === 0) return <p className="muted small">No model requests yet.</p>;
  const first = points[0]!.at;
  const span = Math.max(1, points[points.length - 1]!.at - first);
  const maxTokens = Math.max(1, ...points.map((p) => p.tokens));
  const costs = points.filter((p) => p.costUsd !== null);
  const maxCost = Math.max(0.0001, ...costs.map((p) => p.costUsd!));
  const x = (at: number) => PAD + ((at - first) / span) * (W - 2 * PAD);
  const y = (v: number, max: number) => H - PAD + 8 - (v / max) * (H - PAD - 12);
  // Steps, not slopes: usage grows at the moment a request ends.
  const steps = (series: Point[], value: (p: Point) => number, max: number) =>
    series.map((p, i) => `${i === 0 ? 'M' : 'H'}${x(p.at).toFixed(1)}${i === 0 ? ` ${y(value(p), max).toFixed(1)}` : ` V${y(value(p), max).toFixed(1)}`}`).join(' ');
  const last = points[points.length - 1]!;
  return (
    <figure className="usage-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Usage over time">
        <line x1={PAD} x2={W - PAD} y1={H - PAD + 8} y2={H - PAD + 8} className="axis" />
        <path d={`${steps(points, (p) => p.tokens, maxTokens)} H${W - PAD}`} className="series-tokens" />
        {costs.length > 0 && <path d={`${steps(costs, (p) => p.costUsd!, maxCost)} H${W - PAD}`} className="series-cost" />}
        {points.map((p, i) => (
          <circle key={i} cx={x(p.at)} cy={y(p.tokens, maxTokens)} r={2.5} className="dot-tokens" />
        ))}
        <text x={PAD} y={12} className="label">
          {maxTokens.toLocaleString()} tokens
        </text>
        {costs.length > 0 && (
          <text x={W - PAD} y={12} className="label label-cost" textAnchor="end">
            ${maxCost.toFixed(2)}
          </text>
        )}
        <text x={PAD} y={H - 2} className="label">
          {new Date(first).toLocaleTimeString()}
        </text>
        <text x={W - PAD} y={H - 2} className="label" textAnchor="end">
          {new Date(last.at).toLocaleTimeString()}
        </text>
      </svg>
      <figcaption className="small muted">
        <span className="key key-tokens" /> tokens ({last.tokens.toLocaleString()}){costs.length > 0 && (
          <>
            {' '}
            <span className="key key-cost" /> list cost (${costs[costs.length - 1]!.costUsd!.toFixed(2)})
          </>
        )}
      </figcaption>
    </figure>
  );
}
