import type { MessageCreateParams } from '@anthropic-ai/sdk/resources/messages';
import { lastToolResults, lastUserText } from './request-readers.ts';
import { text, toolUse, type ScriptedTurn } from './script.ts';

/** The quickstart task of the Managed Agents docs, which the demo agent knows how to do. */
export const QUICKSTART_TASK =
  'Create a Python script that finds the first 50 prime numbers, saves them to primes.txt (one per line), and prints the largest prime and the sum of all 50 primes';

const PRIMES_PY = `def first_primes(count):
    primes = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes


primes = first_primes(50)
with open("primes.txt", "w") as f:
    f.write("\\n".join(str(p) for p in primes) + "\\n")
print(f"Largest prime: {max(primes)}")
print(f"Sum of all 50 primes: {sum(primes)}")
`;

/**
 * A scripted stand-in for Claude that really works through the quickstart task
 * with the sandbox tools: it writes `primes.py`, runs it, and reports the
 * numbers it reads from the tool output (not numbers it knows in advance). Any
 * other task gets a short, honest exploration of the workspace. Used by
 * `longhaul dev` / `longhaul run` when no `ANTHROPIC_API_KEY` is set, and by tests.
 */
export function demoAgentScript(request: MessageCreateParams): ScriptedTurn {
  const step = request.messages.filter((m) => m.role === 'assistant').length;
  const task = firstUserText(request);
  if (/prime/i.test(task)) return primesStep(request, step);
  return exploreStep(request, step, task);
}

function primesStep(request: MessageCreateParams, step: number): ScriptedTurn {
  switch (step) {
    case 0:
      return { content: [text("I'll write a Python script that computes the first 50 primes."), toolUse('write', { file_path: 'primes.py', content: PRIMES_PY })] };
    case 1:
      return { content: [toolUse('bash', { command: 'cd /workspace && python3 primes.py && wc -l primes.txt && tail -n 1 primes.txt' })] };
    default: {
      const output = lastToolResults(request).map((r) => r.text).join('\n');
      const largest = /Largest prime: (\d+)/.exec(output)?.[1];
      const sum = /Sum of all 50 primes: (\d+)/.exec(output)?.[1];
      if (!largest || !sum) return { content: [text(`The script did not print what I expected. Its output was:\n${output}`)] };
      return { content: [text(`Done. primes.txt holds the first 50 primes, one per line. The largest prime is ${largest} and the sum of all 50 primes is ${sum}.`)] };
    }
  }
}

function exploreStep(request: MessageCreateParams, step: number, task: string): ScriptedTurn {
  if (step === 0) {
    return {
      content: [
        text('I am the scripted demo model (no ANTHROPIC_API_KEY is set), so I cannot really reason about this task. I will look around the sandbox instead.'),
        toolUse('bash', { command: 'cd /workspace && pwd && ls -la && uname -srm && python3 --version' }),
      ],
    };
  }
  const output = lastToolResults(request).map((r) => r.text).join('\n');
  const latest = lastUserText(request);
  return {
    content: [text(`Here is what the sandbox looks like:\n${output || '(no output)'}\n\nSet ANTHROPIC_API_KEY to have Claude work on: ${latest || task}`)],
  };
}

function firstUserText(request: MessageCreateParams): string {
  const first = request.messages.find((m) => m.role === 'user');
  if (!first) return '';
  if (typeof first.content === 'string') return first.content;
  return first.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
}
