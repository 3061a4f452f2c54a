import { metrics, type Attributes, type Counter, type Gauge, type Histogram, type MeterProvider, type UpDownCounter } from '@opentelemetry/api';

/**
 * Longhaul's metrics, recorded where its spans are (activities, the sandbox driver, the API
 * middleware), never in workflow code. Each call looks the global meter provider up: with
 * metrics off it is OpenTelemetry's no-op, and instruments made from an earlier provider are
 * never kept past its shutdown.
 */
type Instruments = {
  sessionsRunning: UpDownCounter;
  stepDuration: Histogram;
  modelDuration: Histogram;
  modelTokens: Histogram;
  modelTokensByKind: Counter;
  modelErrors: Counter;
  modelCost: Counter;
  toolCalls: Counter;
  toolDuration: Histogram;
  sandboxStarts: Counter;
  sandboxStartDuration: Histogram;
  warmPoolReady: Gauge;
  warmPoolTarget: Gauge;
  httpDuration: Histogram;
};

let made: { provider: MeterProvider; instruments: Instruments } | undefined;

function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (made?.provider === provider) return made.instruments;
  const meter = provider.getMeter('longhaul');
  const seconds = { unit: 's' };
  const instruments: Instruments = {
    sessionsRunning: meter.createUpDownCounter('longhaul.sessions.running', { unit: '{session}', description: 'Sessions with a model call or tool call executing on this worker; the sum over workers is the sessions running' }),
    stepDuration: meter.createHistogram('longhaul.step.duration', { ...seconds, description: "An agent step: the model call and, when they need no one's answer, its tool calls" }),
    modelDuration: meter.createHistogram('gen_ai.client.operation.duration', { ...seconds, description: 'A model request, every attempt included' }),
    modelTokens: meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}', description: 'Tokens a model request billed, by gen_ai.token.type (input: uncached input only)' }),
    modelTokensByKind: meter.createCounter('longhaul.model.tokens', { unit: '{token}', description: 'Tokens billed, by longhaul.token.kind: input, output, cache_read, cache_creation' }),
    modelErrors: meter.createCounter('longhaul.model.errors', { unit: '{error}', description: 'Model requests that failed, by error.type' }),
    modelCost: meter.createCounter('longhaul.model.cost', { unit: 'USD', description: 'What model requests cost at list prices' }),
    toolCalls: meter.createCounter('longhaul.tool.calls', { unit: '{call}', description: 'Tool calls run, by gen_ai.tool.name and longhaul.tool.is_error' }),
    toolDuration: meter.createHistogram('longhaul.tool.duration', { ...seconds, description: 'A tool call, from its start to its recorded result' }),
    sandboxStarts: meter.createCounter('longhaul.sandbox.starts', { unit: '{container}', description: 'Sandbox containers made a session’s, by longhaul.sandbox.source: warm_pool or cold' }),
    sandboxStartDuration: meter.createHistogram('longhaul.sandbox.start.duration', { ...seconds, description: 'From asking for a session’s sandbox to its executor answering' }),
    warmPoolReady: meter.createGauge('longhaul.sandbox.warm_pool.ready', { unit: '{container}', description: 'Warm containers waiting for a new session on this worker, all kinds together' }),
    warmPoolTarget: meter.createGauge('longhaul.sandbox.warm_pool.target', {
      unit: '{container}',
      description: 'Warm containers this worker keeps now, all kinds together: the pool’s size, or more after a burst of new sessions (up to its maximum)',
    }),
    httpDuration: meter.createHistogram('http.server.request.duration', { ...seconds, description: 'API requests, by http.route and http.response.status_code' }),
  };
  made = { provider, instruments };
  return instruments;
}

/** Sessions with work executing here, each counted once however many of its calls run at once. */
const busySessions = new Map<string, number>();

/**
 * Runs one of a session's activities, counting the session in `longhaul.sessions.running`
 * while any of its activities runs in this process. Each worker counts only the sessions
 * it executes now, so the sum over workers counts every session once even as sessions
 * move between workers (a per-process set of "running" sessions would keep ones that went
 * idle on another worker). A session between two steps, for the milliseconds of a
 * workflow task, is not counted.
 */
export async function whileSessionBusy<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
  const busy = busySessions.get(sessionId) ?? 0;
  busySessions.set(sessionId, busy + 1);
  if (busy === 0) instruments().sessionsRunning.add(1);
  try {
    return await work();
  } finally {
    const left = (busySessions.get(sessionId) ?? 1) - 1;
    if (left > 0) busySessions.set(sessionId, left);
    else {
      busySessions.delete(sessionId);
      instruments().sessionsRunning.add(-1);
    }
  }
}

export function recordStep(seconds: number, attributes: Attributes): void {
  instruments().stepDuration.record(seconds, attributes);
}

export type ModelCallRecord = {
  model: string;
  seconds: number;
  /** Absent when the call failed. */
  usage?: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number } | undefined;
  costNanos?: number | undefined;
  /** What the call failed with, when it failed: the endpoint's error type, else the thrown error's (`errorTypeOf`). */
  errorType?: string | undefined;
};

export function recordModelCall({ model, seconds, usage, costNanos, errorType }: ModelCallRecord): void {
  const m = instruments();
  const base = { 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'anthropic', 'gen_ai.request.model': model };
  m.modelDuration.record(seconds, errorType ? { ...base, 'error.type': errorType } : base);
  if (usage) {
    m.modelTokens.record(usage.input_tokens, { ...base, 'gen_ai.token.type': 'input' });
    m.modelTokens.record(usage.output_tokens, { ...base, 'gen_ai.token.type': 'output' });
    const kinds = { input: usage.input_tokens, output: usage.output_tokens, cache_read: usage.cache_read_input_tokens, cache_creation: usage.cache_creation_input_tokens };
    for (const [kind, tokens] of Object.entries(kinds)) if (tokens > 0) m.modelTokensByKind.add(tokens, { ...base, 'longhaul.token.kind': kind });
  }
  if (costNanos) m.modelCost.add(costNanos / 1e9, base);
}

/**
 * A model request the endpoint failed: `error.type` is the endpoint's own error type
 * (`overloaded_error`, `rate_limit_error`, `api_error`, …, see `classifyModelError`), and
 * `longhaul.session.error.type` the `session.error` type the session reported for it
 * (`model_overloaded_error`, …), so a dashboard can go from one to the other.
 */
export function recordModelError({ model, errorType, sessionErrorType }: { model: string; errorType: string; sessionErrorType: string }): void {
  instruments().modelErrors.add(1, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.system': 'anthropic',
    'gen_ai.request.model': model,
    'error.type': errorType,
    'longhaul.session.error.type': sessionErrorType,
  });
}

export function recordToolCall({ name, seconds, isError }: { name: string; seconds: number; isError: boolean }): void {
  const attributes = { 'gen_ai.tool.name': name, 'longhaul.tool.is_error': isError };
  instruments().toolCalls.add(1, attributes);
  instruments().toolDuration.record(seconds, attributes);
}

export function recordSandboxStart({ seconds, source }: { seconds: number; source: 'warm_pool' | 'cold' }): void {
  instruments().sandboxStarts.add(1, { 'longhaul.sandbox.source': source });
  instruments().sandboxStartDuration.record(seconds, { 'longhaul.sandbox.source': source });
}

/** What the warm pool holds and keeps now; recorded whenever either changes. */
export function recordWarmPool({ ready, target }: { ready: number; target: number }): void {
  instruments().warmPoolReady.record(ready);
  instruments().warmPoolTarget.record(target);
}

export function recordHttpRequest(seconds: number, attributes: Attributes): void {
  instruments().httpDuration.record(seconds, attributes);
}

/** Seconds since `startedAt` (a `performance.now()` reading). */
export function secondsSince(startedAt: number): number {
  return (performance.now() - startedAt) / 1000;
}
