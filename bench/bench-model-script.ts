import { reply, toolUse, type ScriptFunction, type ScriptedRequest } from '../src/testing/index.ts';

/** Epoch milliseconds with sub-millisecond precision, comparable with Temporal history times on this host. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

const MARKER = /bench label=(\S+) steps=(\d+)/;

/** The system prompt that tells the bench script which run a request belongs to and how many tool steps it takes. */
export function benchSystemPrompt({ label, steps }: { label: string; steps: number }): string {
  return `bench label=${label} steps=${steps}`;
}

/**
 * A zero-latency scripted model for the benchmarks: it asks for one `bash true`
 * per step until the conversation holds `steps` tool results, then ends the turn.
 * The run's label and step count travel in the system prompt, so one server
 * answers the Temporal session, the in-process loop and the floor replays alike.
 * It records when each request reached the script, per label.
 */
export class BenchModelScript {
  readonly #arrivals = new Map<string, number[]>();
  readonly #waiters = new Map<string, { count: number; resolve: (atMs: number) => void }[]>();
  /** While false (floor replays), arrivals are not recorded. */
  recording = true;

  readonly script: ScriptFunction = (request) => {
    const arrivedAtMs = nowMs();
    const { label, steps } = parseMarker(request);
    if (this.recording) this.#record(label, arrivedAtMs);
    return toolResultCount(request) < steps ? reply(toolUse('bash', { command: 'true' })) : reply('done');
  };

  /** When each request of `label` reached the script (epoch ms), in order. */
  arrivals(label: string): readonly number[] {
    return this.#arrivals.get(label) ?? [];
  }

  /** Resolves with the arrival time of the `count`-th request of `label`. */
  waitForArrival(label: string, count: number): Promise<number> {
    const known = this.arrivals(label)[count - 1];
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(label) ?? [];
      waiters.push({ count, resolve });
      this.#waiters.set(label, waiters);
    });
  }

  #record(label: string, atMs: number): void {
    const list = this.#arrivals.get(label) ?? [];
    list.push(atMs);
    this.#arrivals.set(label, list);
    const waiters = this.#waiters.get(label) ?? [];
    for (const waiter of waiters.filter((w) => w.count <= list.length)) waiter.resolve(list[waiter.count - 1]!);
    this.#waiters.set(label, waiters.filter((w) => w.count > list.length));
  }
}

function parseMarker(request: ScriptedRequest): { label: string; steps: number } {
  const system = typeof request.system === 'string' ? request.system : (request.system ?? []).map((block) => block.text).join('\n');
  const match = MARKER.exec(system);
  if (!match) throw new Error('bench script: request without a bench marker in its system prompt');
  return { label: match[1]!, steps: Number(match[2]) };
}

function toolResultCount(request: ScriptedRequest): number {
  let count = 0;
  for (const message of request.messages) {
    if (message.role !== 'user' || typeof message.content === 'string') continue;
    for (const block of message.content) if (block.type === 'tool_result') count += 1;
  }
  return count;
}
