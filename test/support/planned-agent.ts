/**
 * A session whose scripted model makes exactly the tool calls the test sends it, turn by
 * turn: the test writes the plan, the agent carries it out with its real tools, and the
 * results come back from the event log as the model saw them.
 */
import assert from 'node:assert/strict';
import type { SessionEvent } from '../../src/schemas/events.ts';
import { reply, toolUse, userMessage, type ScriptedRequest, type ScriptFunction } from '../../src/testing/index.ts';
import { collectEvents, isIdle, type Harness } from './harness.ts';

export type PlannedCall = { name: 'bash' | 'read' | 'write' | 'edit' | 'glob' | 'grep'; input: Record<string, unknown>; /** The `toolu_…` id; default a fresh one. */ id?: string };
export type PlannedResult = { text: string; isError: boolean };
export type PlannedTurn = { events: SessionEvent[]; results: PlannedResult[] };

const PLAN = 'PLAN ';

/**
 * The model of every planned agent: each user message carries its turn's calls
 * (`PLAN [...]`); the model makes them one after another, then ends the turn.
 */
export const plannedScript: ScriptFunction = (request) => {
  const start = request.messages.findLastIndex((message) => message.role === 'user' && planOf(message) !== undefined);
  const plan = planOf(request.messages[start]) ?? [];
  const made = request.messages.slice(start + 1).filter((message) => message.role === 'assistant').length;
  const next = plan[made];
  return next ? reply(toolUse(next.name, next.input, { id: next.id })) : reply('done');
};

function planOf(message: ScriptedRequest['messages'][number] | undefined): PlannedCall[] | undefined {
  if (message === undefined || typeof message.content === 'string') return undefined;
  for (const block of message.content) {
    if (block.type === 'text' && block.text.startsWith(PLAN)) return JSON.parse(block.text.slice(PLAN.length)) as PlannedCall[];
  }
  return undefined;
}

/** A bash call with its own time limit. */
export function bashCall(command: string, timeoutMs = 30_000): PlannedCall {
  return { name: 'bash', input: { command, timeout_ms: timeoutMs } };
}

/**
 * One session of a harness whose script is `plannedScript`, driven turn by turn. Every
 * turn must end with `end_turn`. `LONGHAUL_TEST_SHOW_RESULTS=1` prints each result.
 *
 * @example
 * const agent = new PlannedAgent(h, session.id);
 * const { text } = await agent.bash('id -u');
 */
export class PlannedAgent {
  readonly sessionId: string;
  /** Every tool result of every turn, in order. */
  readonly results: PlannedResult[] = [];
  readonly #h: Pick<Harness, 'longhaul'>;
  #lastEventId: string | undefined;

  constructor(h: Pick<Harness, 'longhaul'>, sessionId: string) {
    this.#h = h;
    this.sessionId = sessionId;
  }

  /** Starts a turn of these calls; `finish` waits for its end. */
  async send(calls: PlannedCall[]): Promise<void> {
    await this.#h.longhaul.events.send(this.sessionId, [userMessage(`${PLAN}${JSON.stringify(calls)}`)]);
  }

  /** Waits until the session is idle again; the turn's events and tool results. */
  async finish(): Promise<PlannedTurn> {
    const events = await collectEvents(this.#h.longhaul, this.sessionId, isIdle, { timeoutMs: 90_000, ...(this.#lastEventId ? { after: this.#lastEventId } : {}) });
    const idle = events.at(-1);
    this.#lastEventId = idle?.id;
    assert.deepEqual(idle?.type === 'session.status_idle' && idle.stop_reason, { type: 'end_turn' }, `${this.sessionId}: ${events.map((e) => e.type).join(', ')}`);
    const results = events.flatMap((e) =>
      e.type === 'agent.tool_result' ? [{ text: (e.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join(''), isError: e.is_error === true }] : [],
    );
    this.results.push(...results);
    if (process.env['LONGHAUL_TEST_SHOW_RESULTS'] === '1') {
      for (const r of results) process.stderr.write(`[${this.sessionId}] ${r.isError ? 'error ' : ''}${JSON.stringify(r.text.slice(0, 3000))}\n`);
    }
    return { events, results };
  }

  /** One turn of these calls, every one of them answered. */
  async run(...calls: PlannedCall[]): Promise<PlannedTurn> {
    await this.send(calls);
    const turn = await this.finish();
    assert.equal(turn.results.length, calls.length, JSON.stringify(turn.results));
    return turn;
  }

  async bash(command: string, timeoutMs = 30_000): Promise<PlannedResult> {
    return (await this.run(bashCall(command, timeoutMs))).results[0]!;
  }
}
