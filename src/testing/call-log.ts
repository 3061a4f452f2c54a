/**
 * What the scripted model server received and what it answered, in arrival order,
 * plus waiting for calls to arrive.
 */
import type { BetaMessage } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { ApiErrorType } from './api-errors.ts';
import type { ScriptedFault, ScriptedReply, ScriptedRequest } from './script.ts';

/** What the server answered (or is about to answer) to a request. */
export type RecordedAnswer =
  /** The script has not decided yet (e.g. an async script function is running). */
  | { kind: 'pending' }
  /** A scripted reply, and the `Message` built from it (ids, usage, a compaction block the request asked for) as sent. */
  | { kind: 'reply'; turn: ScriptedReply; message: BetaMessage }
  | { kind: 'fault'; fault: ScriptedFault }
  /** No turn was scripted for this call; the client got a 500 `api_error`. */
  | { kind: 'unscripted'; reason: string }
  /** The request was refused before reaching the script (bad body, unknown path, …). */
  | { kind: 'rejected'; status: number; error: { type: ApiErrorType; message: string } }
  /** A `count_tokens` request. */
  | { kind: 'token_count'; input_tokens: number };

/** One HTTP request the server received. */
export type RecordedRequest = {
  method: string;
  /** Path without the query, e.g. `/v1/messages`. */
  path: string;
  /** The query string including `?`, or empty. */
  query: string;
  /** Names lowercased. Any auth header is accepted and recorded here. */
  headers: Readonly<Record<string, string>>;
  /** Parsed JSON body; undefined when it was not JSON. */
  body: unknown;
  /** `Date.now()` when the request arrived. */
  receivedAtMs: number;
  /** Sent back in the `request-id` header and error bodies. */
  requestId: string;
  answer: RecordedAnswer;
};

/** Token counts as the API reports them to the client. */
export type ReportedUsage = {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
};

/** A Messages API call that reached the script. */
export type RecordedCall = RecordedRequest & {
  /** 0-based position among calls; the unscripted-call message shows it as `call #(callIndex + 1)`. */
  callIndex: number;
  body: ScriptedRequest;
  stream: boolean;
  /**
   * The usage this call has told its client so far, i.e. what it bills: set when a
   * non-streamed answer or a stream's `message_start` is sent, updated by a sent
   * `message_delta`. Absent while nothing carrying usage was sent (errors, a stream
   * cut before `message_start`).
   */
  reportedUsage?: ReportedUsage | undefined;
};

type Waiter = { count: number; resolve: (calls: readonly RecordedCall[]) => void; reject: (error: Error) => void };

export class CallLog {
  readonly #requests: RecordedRequest[] = [];
  readonly #calls: RecordedCall[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #keep: number;
  #callCount = 0;
  /** Calls dropped by `keep` before they were known to be scripted: still checked by `unscriptedCalls()`. */
  readonly #droppedUnsettled: RecordedCall[] = [];
  #closedReason: string | undefined;

  /** @param keep how many of the latest requests and calls to keep (default all). */
  constructor({ keep = Infinity }: { keep?: number | undefined } = {}) {
    this.#keep = keep;
  }

  /** Every call so far, kept or dropped. */
  get callCount(): number {
    return this.#callCount;
  }

  get requests(): readonly RecordedRequest[] {
    return this.#requests;
  }

  get calls(): readonly RecordedCall[] {
    return this.#calls;
  }

  addRequest(request: RecordedRequest): void {
    this.#requests.push(request);
    if (this.#requests.length > this.#keep) this.#requests.shift();
  }

  /** Promotes an already added request to a call and wakes whoever waits for it. */
  addCall(request: RecordedRequest, details: { body: ScriptedRequest; stream: boolean }): RecordedCall {
    const call: RecordedCall = Object.assign(request, details, { callIndex: this.#callCount++ });
    this.#calls.push(call);
    if (this.#calls.length > this.#keep) {
      const dropped = this.#calls.shift()!;
      if (dropped.answer.kind === 'pending' || dropped.answer.kind === 'unscripted') this.#droppedUnsettled.push(dropped);
    }
    for (const waiter of this.#waiters) {
      if (this.#callCount >= waiter.count) {
        this.#waiters.delete(waiter);
        waiter.resolve(this.#calls);
      }
    }
    return call;
  }

  waitForCalls(count: number, timeoutMs: number): Promise<readonly RecordedCall[]> {
    if (this.#callCount >= count) return Promise.resolve(this.#calls);
    if (this.#closedReason !== undefined) return Promise.reject(new Error(this.#closedReason));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`scripted model: waited ${timeoutMs} ms for ${count} call(s); got ${this.#callCount}`));
      }, timeoutMs);
      const waiter: Waiter = {
        count,
        resolve: (calls) => {
          clearTimeout(timer);
          resolve(calls);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** Fails current and future waits, e.g. when the server closes. */
  stopWaiting(reason: string): void {
    this.#closedReason = reason;
    for (const waiter of this.#waiters) waiter.reject(new Error(reason));
    this.#waiters.clear();
  }

  unscriptedCalls(): RecordedCall[] {
    return [...this.#droppedUnsettled, ...this.#calls].filter((call) => call.answer.kind === 'unscripted');
  }
}

/** Thrown by `assertNoUnscriptedCalls()`: the code under test called the model more often than scripted. */
export class UnscriptedCallError extends Error {
  override readonly name = 'UnscriptedCallError';
  readonly calls: readonly RecordedCall[];

  constructor(calls: readonly RecordedCall[]) {
    const lines = calls.map((call) => {
      const reason = call.answer.kind === 'unscripted' ? call.answer.reason : call.answer.kind;
      return `  call #${call.callIndex + 1} (callIndex ${call.callIndex}): ${reason}; last message: ${describeLastMessage(call.body)}`;
    });
    super(`scripted model: ${calls.length} unscripted call(s):\n${lines.join('\n')}`);
    this.calls = calls;
  }
}

function describeLastMessage(request: ScriptedRequest): string {
  const last = request.messages.at(-1);
  if (last === undefined) return '(none)';
  const json = JSON.stringify(last.content);
  return `${last.role} ${json.length > 160 ? `${json.slice(0, 160)}…` : json}`;
}
