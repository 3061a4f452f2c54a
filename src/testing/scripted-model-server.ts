/**
 * An HTTP server that speaks the Anthropic Messages API and answers from a script,
 * so agents can be tested with the real SDK and no network or API key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiRequestError, faultError, writeApiError } from './api-errors.ts';
import { CallLog, UnscriptedCallError, type RecordedCall, type RecordedRequest } from './call-log.ts';
import { headersOf, parseCountTokensRequest, parseMessagesRequest, readJsonBody } from './http-request.ts';
import { parseTurn, reply, type Script, type ScriptFunction, type ScriptedTurn } from './script.ts';
import { buildMessage, estimateInputTokens, newApiId } from './scripted-message.ts';
import { reportedUsageOf, usageAfter, type StreamEvent } from './messages-sse.ts';
import { sendMessage, streamMessage, type StreamInterruption } from './send-answer.ts';
import { compactionEditOf, compactionFor } from './server-compaction.ts';

export type ScriptedModelServerOptions = {
  /** Turns handed out in order, or a function answering each call. Default: none, so every call is unscripted. */
  script?: Script | undefined;
  /** Default 0: any free port (read it from `url`). */
  port?: number | undefined;
  /** Default `127.0.0.1`. */
  host?: string | undefined;
  /** Waited before every Messages answer, on top of a turn's own `delayMs`. Default 0. */
  latencyMs?: number | undefined;
  /**
   * The model's context window, in input tokens as this server counts them (about four
   * characters a token, from the last compaction block on). A longer request gets the
   * API's 400 `prompt is too long: N tokens > M maximum` and reaches no script. Default: none.
   */
  contextWindowTokens?: number | undefined;
  /**
   * How many of the latest requests (and calls) `requests` and `calls` keep; older ones
   * are dropped, so a run of many thousand calls keeps its memory flat. Calls keep their
   * `callIndex`, and `callCount` counts every call. Default: all.
   */
  keepCalls?: number | undefined;
};

export type WaitForCallsOptions = {
  /** Default 5000. */
  timeoutMs?: number | undefined;
};

type ScriptState = { kind: 'list'; turns: ScriptedTurn[]; next: number } | { kind: 'function'; answer: ScriptFunction };

type Decision = { turn: ScriptedTurn } | { unscriptedReason: string };

const ROUTES: Readonly<Record<string, 'messages' | 'count_tokens'>> = {
  '/v1/messages': 'messages',
  '/v1/messages/count_tokens': 'count_tokens',
};

/** Streamed when a mid-stream fault needs something to break off from. */
const INTERRUPTED_REPLY = reply('This answer is cut off by a scripted fault.');
const DEFAULT_AFTER_EVENTS = 3;

/**
 * A scripted stand-in for Claude: `POST /v1/messages` (streaming and not) and
 * `POST /v1/messages/count_tokens`, answered from a script of replies and faults.
 * A call with no scripted turn gets a 500 and is recorded, so `assertNoUnscriptedCalls()`
 * fails the test.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { ScriptedModelServer, reply, toolUse } from 'longhaul/testing';
 *
 * await using model = await ScriptedModelServer.start({
 *   script: [reply('Let me check.', toolUse('bash', { command: 'date' })), reply('Done.')],
 * });
 * const client = new Anthropic({ baseURL: model.url, apiKey: 'test', maxRetries: 0 });
 * const message = await client.messages.create({
 *   model: 'claude-opus-4-8',
 *   max_tokens: 1024,
 *   messages: [{ role: 'user', content: 'What time is it?' }],
 * });
 * // message.stop_reason === 'tool_use'; model.calls[0].body is what the client sent.
 * model.assertNoUnscriptedCalls();
 * ```
 *
 * @example A function script answers from the request:
 * ```ts
 * const model = await ScriptedModelServer.start({
 *   script: (request) => {
 *     const [result] = lastToolResults(request);
 *     return result ? reply(`The date is ${result.text}`) : reply(toolUse('bash', { command: 'date' }));
 *   },
 * });
 * ```
 */
export class ScriptedModelServer implements AsyncDisposable {
  readonly #http: Server;
  readonly #log: CallLog;
  readonly #latencyMs: number;
  readonly #contextWindowTokens: number | undefined;
  /** Aborted by close(): delays, streams and script functions in flight stop. */
  readonly #closing = new AbortController();
  #script: ScriptState;
  #url = '';
  #closed: Promise<void> | undefined;

  private constructor(http: Server, script: Script, { latencyMs, contextWindowTokens, keepCalls }: { latencyMs: number; contextWindowTokens: number | undefined; keepCalls: number | undefined }) {
    this.#http = http;
    this.#script = toScriptState(script);
    this.#latencyMs = latencyMs;
    this.#contextWindowTokens = contextWindowTokens;
    this.#log = new CallLog({ keep: keepCalls });
    http.on('request', (request: IncomingMessage, response: ServerResponse) => {
      this.#handle(request, response).catch(() => response.destroy());
    });
  }

  /**
   * Starts a server and resolves once it listens.
   * @throws Error when a turn of a list script is invalid, or the port is taken.
   */
  static async start({ script = [], port = 0, host = '127.0.0.1', latencyMs = 0, contextWindowTokens, keepCalls }: ScriptedModelServerOptions = {}): Promise<ScriptedModelServer> {
    const server = new ScriptedModelServer(createServer(), script, { latencyMs, contextWindowTokens, keepCalls });
    await new Promise<void>((resolve, reject) => {
      server.#http.once('error', reject);
      server.#http.listen(port, host, () => {
        server.#http.off('error', reject);
        resolve();
      });
    });
    const address = server.#http.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    server.#url = `http://${hostPart}:${address.port}`;
    return server;
  }

  /** Base URL for the SDK, e.g. `new Anthropic({ baseURL: model.url, apiKey: 'test' })`. */
  get url(): string {
    return this.#url;
  }

  /** Every HTTP request received, in arrival order, with what was answered. */
  get requests(): readonly RecordedRequest[] {
    return this.#log.requests;
  }

  /** The Messages calls among `requests` (valid `POST /v1/messages`), in arrival order. */
  get calls(): readonly RecordedCall[] {
    return this.#log.calls;
  }

  /** Number of Messages calls received so far, scripted or not (also those `keepCalls` dropped). */
  get callCount(): number {
    return this.#log.callCount;
  }

  /** Turns of a list script not handed out yet; undefined for a function script. */
  get remainingTurns(): number | undefined {
    return this.#script.kind === 'list' ? this.#script.turns.length - this.#script.next : undefined;
  }

  /** Replaces the script; a list script starts from its first turn. Recorded calls are kept. */
  setScript(script: Script): this {
    this.#script = toScriptState(script);
    return this;
  }

  /**
   * Appends turns to a list script.
   * @throws Error when the script is a function, or a turn is invalid.
   */
  push(...turns: ScriptedTurn[]): this {
    const script = this.#script;
    if (script.kind !== 'list') throw new Error('scripted model: push() extends a list script, but this script is a function; use setScript()');
    const firstIndex = script.turns.length;
    script.turns.push(...turns.map((turn, offset) => checkedTurn(turn, firstIndex + offset)));
    return this;
  }

  /**
   * Resolves with `calls` once `count` Messages calls have arrived (their answers may still be pending).
   * @throws Error after `timeoutMs` (default 5000), or when the server closes first.
   */
  waitForCalls(count: number, { timeoutMs = 5000 }: WaitForCallsOptions = {}): Promise<readonly RecordedCall[]> {
    return this.#log.waitForCalls(count, timeoutMs);
  }

  /** @throws UnscriptedCallError listing each call that found no turn (or whose script function threw). */
  assertNoUnscriptedCalls(): void {
    const unscripted = this.#log.unscriptedCalls();
    if (unscripted.length > 0) throw new UnscriptedCallError(unscripted);
  }

  /** Stops listening and ends every connection, hung and streaming ones included. Idempotent. */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#closing.abort();
    this.#log.stopWaiting('scripted model: server closed while waiting for calls');
    this.#closed = new Promise((resolve) => this.#http.close(() => resolve()));
    this.#http.closeAllConnections();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://scripted-model.invalid');
    const record: RecordedRequest = {
      method: request.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      headers: headersOf(request),
      body: undefined,
      receivedAtMs: Date.now(),
      requestId: newApiId('req'),
      answer: { kind: 'pending' },
    };
    this.#log.addRequest(record);
    const clientGone = new AbortController();
    response.on('close', () => clientGone.abort());
    const signal = AbortSignal.any([this.#closing.signal, clientGone.signal]);
    try {
      const route = ROUTES[url.pathname];
      if (route === undefined) throw new ApiRequestError('not_found_error', `Not found: ${record.method} ${url.pathname}`);
      if (record.method !== 'POST') throw new ApiRequestError('invalid_request_error', `Method ${record.method} not allowed on ${url.pathname}; use POST`);
      record.body = await readJsonBody(request);
      if (route === 'count_tokens') {
        const input_tokens = estimateInputTokens(parseCountTokensRequest(record.body));
        record.answer = { kind: 'token_count', input_tokens };
        response.writeHead(200, { 'content-type': 'application/json', 'request-id': record.requestId });
        response.end(JSON.stringify({ input_tokens }));
        return;
      }
      await this.#answerCall(record, response, signal);
    } catch (error) {
      // The client left or the server is closing: nobody is listening for an answer.
      if (signal.aborted) return;
      const apiError =
        error instanceof ApiRequestError ? error : new ApiRequestError('api_error', `scripted model: internal error: ${String(error)}`, { retryable: false });
      if (record.answer.kind === 'pending') {
        record.answer = { kind: 'rejected', status: apiError.status, error: { type: apiError.type, message: apiError.message } };
      }
      if (response.headersSent) response.destroy();
      else writeApiError(response, apiError, record.requestId);
    }
  }

  async #answerCall(record: RecordedRequest, response: ServerResponse, signal: AbortSignal): Promise<void> {
    const body = parseMessagesRequest(record.body);
    const call = this.#log.addCall(record, { body, stream: body.stream === true });
    // What the API checks before the model runs: the compaction edit, then the window.
    const edit = compactionEditOf(body as { context_management?: unknown }, record.headers);
    const inputTokens = estimateInputTokens(body);
    const window = this.#contextWindowTokens;
    if (window !== undefined && inputTokens > window) throw new ApiRequestError('invalid_request_error', `prompt is too long: ${inputTokens} tokens > ${window} maximum`);
    const compaction = compactionFor(edit, body, inputTokens);
    const decision = await this.#decide(call, signal);
    if ('unscriptedReason' in decision) {
      call.answer = { kind: 'unscripted', reason: decision.unscriptedReason };
      const message = `scripted model: no turn scripted for call #${call.callIndex + 1} (callIndex ${call.callIndex}): ${decision.unscriptedReason}`;
      throw new ApiRequestError('api_error', message, { retryable: false });
    }
    const { turn } = decision;
    // What the client is billed is what it was told: message_start, then any message_delta.
    const onSent = (event: StreamEvent): void => {
      call.reportedUsage = usageAfter(call.reportedUsage, event);
    };
    const estimatedInputTokens = compaction?.tokensAfter ?? inputTokens;
    if (!('fault' in turn)) {
      const message = buildMessage({ reply: turn, model: body.model, estimatedInputTokens, compaction });
      call.answer = { kind: 'reply', turn, message };
      await this.#wait(turn.delayMs, signal);
      if (!call.stream) {
        sendMessage(response, message, call.requestId);
        call.reportedUsage = reportedUsageOf(message.usage);
        return;
      }
      return streamMessage(response, { message, requestId: call.requestId, eventDelayMs: turn.eventDelayMs ?? 0, signal, onSent });
    }
    call.answer = { kind: 'fault', fault: turn };
    // Never answered: the connection stays open until the client gives up or close() ends it.
    if (turn.fault === 'hang') return;
    await this.#wait(turn.delayMs, signal);
    switch (turn.fault) {
      case 'rate_limited':
      case 'overloaded':
      case 'server_error':
      case 'bad_request':
        throw faultError(turn);
      case 'disconnect_mid_stream':
      case 'stall_mid_stream':
      case 'error_mid_stream': {
        const then: StreamInterruption['then'] =
          turn.fault === 'disconnect_mid_stream' ? 'disconnect' : turn.fault === 'stall_mid_stream' ? 'stall' : faultError(turn);
        if (!call.stream) {
          if (then === 'disconnect') response.destroy();
          else if (then !== 'stall') throw then;
          return;
        }
        const message = buildMessage({ reply: INTERRUPTED_REPLY, model: body.model, estimatedInputTokens });
        const interruption = { afterEvents: turn.afterEvents ?? DEFAULT_AFTER_EVENTS, then };
        return streamMessage(response, { message, requestId: call.requestId, eventDelayMs: 0, signal, interruption, onSent });
      }
    }
  }

  async #decide(call: RecordedCall, signal: AbortSignal): Promise<Decision> {
    const script = this.#script;
    if (script.kind === 'list') {
      const turn = script.turns[script.next];
      if (turn === undefined) return { unscriptedReason: `all ${script.turns.length} scripted turn(s) are used up` };
      script.next += 1;
      return { turn };
    }
    let answer: unknown;
    try {
      answer = await script.answer(call.body, { callIndex: call.callIndex, headers: call.headers, signal });
    } catch (error) {
      return { unscriptedReason: `the script function threw: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (answer === undefined) return { unscriptedReason: 'the script function returned undefined' };
    try {
      return { turn: parseTurn(answer) };
    } catch (error) {
      return { unscriptedReason: `the script function returned an ${(error as Error).message}` };
    }
  }

  async #wait(delayMs: number | undefined, signal: AbortSignal): Promise<void> {
    const totalMs = this.#latencyMs + (delayMs ?? 0);
    if (totalMs > 0) await sleep(totalMs, undefined, { signal });
  }
}

function toScriptState(script: Script): ScriptState {
  if (typeof script === 'function') return { kind: 'function', answer: script };
  return { kind: 'list', turns: script.map((turn, index) => checkedTurn(turn, index)), next: 0 };
}

/** Fails at setup, not at call time, when a list turn is malformed (JS callers, JSON files). */
function checkedTurn(turn: ScriptedTurn, index: number): ScriptedTurn {
  try {
    return parseTurn(turn);
  } catch (error) {
    throw new Error(`scripted model: turn #${index + 1} of the script is an ${(error as Error).message}`);
  }
}
