/** The lines `longhaul run` prints first (which model) and last (how the run went). Pure. */
import type { DevModel } from '../config/dev-info.ts';
import type { RenderedLine, RunEnd, RunStats, TokenUsage } from './render-event.ts';

export type ModelBannerInput = {
  /** The model the agent names (`--model`). */
  agentModel: string;
  /** What the server said it runs; undefined when it did not say (a server not started by `longhaul dev`). */
  server: DevModel | undefined;
};

/** The run's first line: which model answers. The scripted demo model is named as such, never as Claude. */
export function renderModelBanner({ agentModel, server }: ModelBannerInput): RenderedLine {
  if (server?.kind === 'scripted') {
    return { tone: 'warn', text: `model: scripted demo model, not Claude (no ANTHROPIC_API_KEY on the server; the agent asks for ${agentModel})` };
  }
  if (server?.kind === 'anthropic') return { tone: 'heading', text: `model: ${agentModel} (Claude via ${server.base_url})` };
  return { tone: 'heading', text: `model: ${agentModel} (as the server at the given URL provides it)` };
}

export type RunSummaryInput = {
  end: RunEnd;
  stats: RunStats;
  /** From `sessions.retrieve`; undefined when that failed, and the summary then sums the run's spans. */
  sessionUsage: TokenUsage | undefined;
  wallMs: number;
  sessionId: string;
};

const STOP_REASON_MEANING: Readonly<Record<string, string>> = {
  end_turn: 'the agent finished',
  requires_action: 'waiting for a decision',
  retries_exhausted: 'gave up after retries',
  budget_reached: 'the budget ran out',
  refusal: 'the model refused',
};

export function renderRunSummary({ end, stats, sessionUsage, wallMs, sessionId }: RunSummaryInput): RenderedLine[] {
  const stop =
    end.kind === 'idle' ? `stop reason: ${end.stopReason.type}${STOP_REASON_MEANING[end.stopReason.type] ? ` (${STOP_REASON_MEANING[end.stopReason.type]})` : ''}` : `session ${end.kind}`;
  const ok = end.kind === 'idle' && end.stopReason.type === 'end_turn';
  const usage = sessionUsage ?? stats.spanUsage;
  const tools = `${plural(stats.toolCalls, 'tool call')}${stats.failedToolCalls > 0 ? ` (${stats.failedToolCalls} failed)` : ''}`;
  return [
    { tone: 'dim', text: '─'.repeat(40) },
    { tone: ok ? 'ok' : 'warn', text: `${ok ? '✓' : '!'} ${stop} · ${formatDuration(wallMs)} · ${tools} · ${plural(stats.modelRequests, 'model request')}${stats.errors > 0 ? ` · ${plural(stats.errors, 'error')}` : ''}` },
    {
      tone: 'plain',
      text:
        `  tokens: ${usage.input} input · ${usage.output} output · ${usage.cacheRead} cache read · ${usage.cacheWrite} cache write` +
        `${usage.listCostUsd !== undefined ? ` · $${usage.listCostUsd} at list prices` : ''}${sessionUsage ? '' : ' (summed from this run)'}`,
    },
    { tone: 'dim', text: `  session: ${sessionId}` },
  ];
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
