import type Anthropic from '@anthropic-ai/sdk';
import type { AttemptUsage, SessionStore } from '../../src/store/session-store.ts';
import { listCostNanos } from '../../src/core/model-pricing.ts';
import { billedUsageFrom, sumUsage, zeroUsage, type Usage } from '../../src/core/usage.ts';

type Log = { warn(message: string, meta?: Record<string, unknown>): void };

/**
 * Keeps one attempt's usage in the store as the model endpoint reports it. The
 * endpoint bills every request it answered, also one whose worker is killed
 * mid-stream or whose stream breaks; so `message_start`'s counts (input, cache,
 * provisional output) are written the moment they arrive, later `message_delta`
 * counts on the heartbeat, and everything at the end. The next attempt of the call
 * then counts what this one was billed (`billedUsageOfCall`).
 *
 * @example
 * const recorder = new AttemptUsageRecorder({ store, sessionId, callKey, attempt, log });
 * stream.on('streamEvent', (event, snapshot) => recorder.onStreamEvent(event, snapshot));
 * setInterval(() => recorder.flush(), heartbeatEveryMs);
 * const { model } = await recorder.close();
 */
export class AttemptUsageRecorder {
  readonly #store: SessionStore;
  readonly #key: { sessionId: string; callKey: string; attempt: number };
  readonly #log: Log;
  #model: Usage = zeroUsage();
  #judge: Usage = zeroUsage();
  #reported = false;
  #dirty = false;
  /** Writes run one after another, so a later record never lands before an earlier one. */
  #writes: Promise<void> = Promise.resolve();

  constructor({ store, sessionId, callKey, attempt, log }: { store: SessionStore; sessionId: string; callKey: string; attempt: number; log: Log }) {
    this.#store = store;
    this.#key = { sessionId, callKey, attempt };
    this.#log = log;
  }

  /** The model request's usage as its stream has reported it so far (zero before `message_start`). */
  get model(): Usage {
    return { ...this.#model };
  }

  /**
   * Takes the usage the SDK accumulated after a stream event (`snapshot` is its message
   * so far): the Messages API's or its beta's, whose server-side compaction is billed too.
   */
  onStreamEvent(event: { type: Anthropic.Messages.MessageStreamEvent['type'] }, snapshot: { usage: Parameters<typeof billedUsageFrom>[0] }): void {
    if (event.type !== 'message_start' && event.type !== 'message_delta') return;
    this.#model = billedUsageFrom(snapshot.usage);
    this.#reported = true;
    this.#dirty = true;
    // message_start is what a crash soon after would lose: write it now. Deltas wait for the heartbeat.
    if (event.type === 'message_start') this.flush();
  }

  /** Sets the request's usage from its final message (exactly what the stream reported last). */
  setModel(usage: Parameters<typeof billedUsageFrom>[0]): void {
    this.#model = billedUsageFrom(usage);
    this.#reported = true;
    this.#dirty = true;
  }

  /**
   * Adds the usage of a request the attempt made besides the model request itself (a
   * permission judgement, a summary of the context) and waits for its record (a failed
   * write is left to the next one, as in `flush`).
   */
  async addSideRequest(usage: Usage): Promise<void> {
    this.#judge = sumUsage([this.#judge, usage]);
    this.#reported = true;
    this.#dirty = true;
    this.flush();
    await this.#writes;
  }

  /**
   * Records what is new since the last write, in the background (the heartbeat tick).
   * A failed write is logged; the next one, and `close()`, write the whole record again.
   */
  flush(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    this.#enqueue(this.#record(false)).catch((err: unknown) => {
      this.#dirty = true;
      this.#log.warn('recording model usage failed; it is written again later', { ...this.#key, error: String(err) });
    });
  }

  /**
   * Writes the final record (nothing when the endpoint reported nothing) and returns its
   * figures, and the record itself when one was written. @throws when the store cannot take it.
   */
  async close(): Promise<{ model: Usage; judge: Usage; record: AttemptUsage | undefined }> {
    const closed = await this.closeForAnswer();
    if (closed.record) await this.#enqueue(closed.record);
    return closed;
  }

  /**
   * As `close()`, but the final record is the caller's to write, in the transaction that
   * stores the answer (`append`'s `finalUsage`): one statement less per model call. Should
   * that write fail, `close()` writes it.
   */
  async closeForAnswer(): Promise<{ model: Usage; judge: Usage; record: AttemptUsage | undefined }> {
    await this.#writes;
    this.#dirty = false;
    const record = this.#reported ? this.#record(true) : undefined;
    return { model: { ...this.#model }, judge: { ...this.#judge }, record };
  }

  #record(final: boolean): AttemptUsage {
    return { callKey: this.#key.callKey, attempt: this.#key.attempt, model: { ...this.#model }, judge: { ...this.#judge }, final };
  }

  #enqueue(record: AttemptUsage): Promise<void> {
    const write = this.#writes.then(() => this.#store.putAttemptUsage(this.#key.sessionId, record));
    // The chain goes on after a failure; the caller of this write sees it.
    this.#writes = write.catch(() => {});
    return write;
  }
}

/**
 * What a call was billed up to and including `committedAttempt`, the attempt whose
 * answer was stored: every earlier attempt's recorded usage (made final before that
 * attempt called the model) plus its own, with their list cost. The attempt that
 * commits and any retry that finds its answer stored compute it from the same final
 * records, so they return the same total.
 */
export function billedUsageOfCall(records: readonly AttemptUsage[], { committedAttempt, model }: { committedAttempt: number; model: string }): { usage: Usage; costNanos: number } {
  const counted = records.filter((r) => r.attempt <= committedAttempt);
  const requests = counted.flatMap((r) => [r.model, r.judge]);
  return { usage: sumUsage(requests), costNanos: requests.reduce((nanos, usage) => nanos + listCostNanos(model, usage), 0) };
}
