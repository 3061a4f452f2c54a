/**
 * `longhaul run "<task>"`: one session, driven through the official SDK exactly as
 * any client would (agents.create → environments.create → sessions.create → open the
 * event stream → events.send), rendered as it happens.
 */
import { performance } from 'node:perf_hooks';
import Anthropic, { APIConnectionError, APIError, AuthenticationError } from '@anthropic-ai/sdk';
import type { APIPromise } from '@anthropic-ai/sdk/core/api-promise';
import type { BetaManagedAgentsSessionUsage } from '@anthropic-ai/sdk/resources/beta/sessions/sessions';
import { MODEL_HEADER, type DevModel } from '../config/dev-info.ts';
import { CliError } from './cli-error.ts';
import type { RunCommandFlags } from './main.ts';
import type { Terminal } from './output.ts';
import { createEventRenderer, type RunEnd, type StreamEvent, type TokenUsage } from './render-event.ts';
import { renderModelBanner, renderRunSummary } from './render-summary.ts';
import { resolveRunTarget } from './run-target.ts';

const STREAM_RECONNECTS = 5;

export async function runRun({ task, flags, terminal }: { task: string; flags: RunCommandFlags; terminal: Terminal }): Promise<number> {
  if (task.trim() === '') throw new CliError('say what the agent should do: longhaul run "<task>"', { exitCode: 2 });
  const target = await resolveRunTarget({ dataDir: flags.dataDir, url: flags.url, apiKey: flags.apiKey });
  const json = flags.json === true;
  // The first line says which model answers; with --json it goes to stderr so stdout stays pure JSON lines.
  let bannerShown = false;
  const showBanner = (server: DevModel | undefined) => {
    if (bannerShown) return;
    bannerShown = true;
    const banner = renderModelBanner({ agentModel: flags.model, server });
    if (json) terminal.warn(banner.text);
    else terminal.print([banner]);
  };
  if (target.model) showBanner(target.model);
  /** A server not found through dev.json still names its model in a response header (a `longhaul dev` does). */
  const learnModel = async <T>(call: APIPromise<T>): Promise<T> => {
    const { data, response } = await call.withResponse();
    showBanner(target.model ?? modelFromHeader(response.headers.get(MODEL_HEADER)));
    return data;
  };

  const client = new Anthropic({ baseURL: target.baseURL, apiKey: target.apiKey, maxRetries: 2 });
  const renderer = createEventRenderer();
  const controller = new AbortController();
  let interrupts = 0;
  let sessionId: string | undefined;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1 && sessionId !== undefined) {
      terminal.warn('interrupting the agent… (Ctrl-C again to stop watching)');
      client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.interrupt' }] }).catch((error: unknown) => terminal.error(`could not interrupt: ${String(error)}`));
      return;
    }
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    if (!json) terminal.spinner('starting a session…');
    const session = await withApiErrors(target.baseURL, async () => {
      const agentId =
        flags.agent ??
        (
          await learnModel(
            client.beta.agents.create({
              name: 'longhaul-run',
              model: flags.model,
              ...(flags.system !== undefined ? { system: flags.system } : {}),
              tools: [{ type: 'agent_toolset_20260401' }],
            }),
          )
        ).id;
      const environmentId = flags.environment ?? (await learnModel(client.beta.environments.create({ name: 'longhaul-run' }))).id;
      return learnModel(client.beta.sessions.create({ agent: agentId, environment_id: environmentId, title: titleOf(task) }));
    });
    sessionId = session.id;
    const sessionLine = `session ${session.id} · agent ${session.agent.id} · environment ${session.environment_id}`;
    if (json) terminal.note(sessionLine);
    else {
      terminal.line(sessionLine, 'dim');
      terminal.spinner('sending the task…');
    }

    // Stream first: it is live from the moment it connects, so opening it after sending could miss events.
    const stream = await withApiErrors(target.baseURL, () => client.beta.sessions.events.stream(session.id, {}, { signal: controller.signal }));
    const startedAt = performance.now();
    await withApiErrors(target.baseURL, () =>
      client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: task }] }] }),
    );

    const show = (event: StreamEvent): RunEnd | undefined => {
      const rendered = renderer.render(event);
      if (json) terminal.raw(JSON.stringify(event));
      else {
        terminal.print(rendered.lines);
        terminal.spinner(rendered.spinner);
      }
      return rendered.end;
    };
    const end = await followSession({ client, sessionId: session.id, first: stream, show, signal: controller.signal });
    terminal.spinner(null);
    const wallMs = performance.now() - startedAt;
    if (end === undefined) {
      terminal.error(controller.signal.aborted ? 'stopped watching; the session goes on (see it with the API)' : 'the event stream ended before the session went idle');
      return controller.signal.aborted ? 130 : 1;
    }
    if (!json) {
      const usage = await client.beta.sessions.retrieve(session.id).then((s) => tokenUsage(s.usage), () => undefined);
      terminal.print(renderRunSummary({ end, stats: renderer.stats, sessionUsage: usage, wallMs, sessionId: session.id }));
    }
    return end.kind === 'idle' && end.stopReason.type === 'end_turn' ? 0 : 1;
  } finally {
    terminal.spinner(null);
    process.off('SIGINT', onSigint);
  }
}

/**
 * Renders the session's events until the run ends. If the stream drops first (the
 * server restarted, a proxy timed out), it catches up from the event history, which
 * has the same event ids, and reconnects.
 */
async function followSession({
  client,
  sessionId,
  first,
  show,
  signal,
}: {
  client: Anthropic;
  sessionId: string;
  first: AsyncIterable<StreamEvent>;
  show: (event: StreamEvent) => RunEnd | undefined;
  signal: AbortSignal;
}): Promise<RunEnd | undefined> {
  let stream: AsyncIterable<StreamEvent> | undefined = first;
  for (let attempt = 0; attempt <= STREAM_RECONNECTS && !signal.aborted; attempt++) {
    try {
      if (stream === undefined) stream = await client.beta.sessions.events.stream(sessionId, {}, { signal });
      for await (const event of stream) {
        const end = show(event);
        if (end) return end;
      }
    } catch (error) {
      if (signal.aborted) return undefined;
      if (error instanceof APIError && error.status !== undefined && error.status >= 400 && error.status < 500 && ![408, 409, 429].includes(error.status)) throw error;
    }
    stream = undefined;
    // Reconcile: events the dropped stream did not deliver are in the history (the renderer skips ids it has shown).
    try {
      for await (const event of client.beta.sessions.events.list(sessionId, { limit: 1000 }, { signal })) {
        const end = show(event);
        if (end) return end;
      }
    } catch {
      if (signal.aborted) return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** attempt, 5000)));
  }
  return undefined;
}

/** Turns SDK errors on the way in into one-line messages saying what to do. */
export async function withApiErrors<T>(baseURL: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw cliErrorOf(baseURL, error);
  }
}

/** A `CliError` saying what an SDK error means for the API at `baseURL`; any other error as it is. */
export function cliErrorOf(baseURL: string, error: unknown): unknown {
  if (error instanceof APIConnectionError) {
    return new CliError(`cannot reach the Longhaul API at ${baseURL}: is \`longhaul dev\` running? Start it with \`./longhaul dev\``, { cause: error });
  }
  if (error instanceof AuthenticationError) {
    return new CliError(`the API at ${baseURL} rejected the API key (401); use the key \`longhaul dev\` printed (--api-key or LONGHAUL_API_KEY)`, { cause: error });
  }
  if (error instanceof APIError) {
    // The envelope's own message, not the SDK's (which is the whole JSON body).
    const message = (error.error as { error?: { message?: unknown } } | undefined)?.error?.message;
    return new CliError(`the API refused (${error.status ?? 'error'}): ${typeof message === 'string' ? message : error.message}`, { cause: error });
  }
  return error;
}

function tokenUsage(usage: BetaManagedAgentsSessionUsage | undefined): TokenUsage | undefined {
  if (usage?.input_tokens === undefined && usage?.output_tokens === undefined) return undefined;
  // The hosted API reports cache writes split by lifetime; a server may also send the Messages-API total.
  const legacyCacheWrite = (usage as { cache_creation_input_tokens?: number }).cache_creation_input_tokens;
  const cacheWrite = usage.cache_creation
    ? (usage.cache_creation.ephemeral_5m_input_tokens ?? 0) + (usage.cache_creation.ephemeral_1h_input_tokens ?? 0)
    : (legacyCacheWrite ?? 0);
  // The amount is in cents (`BetaMonetaryAmount` minor units).
  const listCostUsd = usage.list_cost?.currency === 'USD' ? (Number(usage.list_cost.amount) / 100).toFixed(2) : undefined;
  return { input: usage.input_tokens ?? 0, output: usage.output_tokens ?? 0, cacheRead: usage.cache_read_input_tokens ?? 0, cacheWrite, ...(listCostUsd !== undefined ? { listCostUsd } : {}) };
}

function titleOf(task: string): string {
  const line = task.trim().split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

function modelFromHeader(value: string | null): DevModel | undefined {
  if (value === 'scripted-demo') return { kind: 'scripted', base_url: '(inside the server)' };
  if (value === 'anthropic') return { kind: 'anthropic', base_url: 'the server' };
  return undefined;
}
