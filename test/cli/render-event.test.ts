import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createEventRenderer, sanitize, summarizeToolInput, type Rendered, type StreamEvent } from '../../src/cli/render-event.ts';
import { formatDuration, renderModelBanner, renderRunSummary } from '../../src/cli/render-summary.ts';

/** Event sequences recorded from real sessions (the demo model on Temporal and Docker). */
function recorded(name: string): StreamEvent[] {
  return readFileSync(new URL(`./fixtures/${name}.jsonl`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as StreamEvent);
}

function renderAll(events: StreamEvent[], options?: Parameters<typeof createEventRenderer>[0]) {
  const renderer = createEventRenderer(options);
  const outputs: Rendered[] = events.map((e) => renderer.render(e));
  const text = outputs.flatMap((o) => o.lines.map((l) => l.text)).join('\n');
  return { renderer, outputs, text, end: outputs.find((o) => o.end)?.end };
}

const at = '2026-01-01T00:00:00Z';
const ev = <T extends StreamEvent['type']>(type: T, id: string, fields: Record<string, unknown> = {}) => ({ type, id, processed_at: at, ...fields }) as unknown as StreamEvent;

test('the quickstart session renders as messages, summarised tool calls, their results and an end_turn', () => {
  const { text, end, renderer } = renderAll(recorded('quickstart-events'));
  assert.equal(
    text,
    [
      '› Create a Python script that finds the first 50 prime numbers, saves them to primes.txt (one per line), and prints the largest prime and the sum of all 50 primes',
      "I'll write a Python script that computes the first 50 primes.",
      '▸ write primes.py (15 lines)',
      '  ⎿ Created primes.py (439 bytes)',
      '▸ bash $ cd /workspace && python3 primes.py && wc -l primes.txt && tail -n 1 primes.txt',
      '  ⎿ Largest prime: 229',
      '    Sum of all 50 primes: 5117',
      '    50 primes.txt',
      '    229',
      'Done. primes.txt holds the first 50 primes, one per line. The largest prime is 229 and the sum of all 50 primes is 5117.',
    ].join('\n'),
  );
  assert.deepEqual(end, { kind: 'idle', stopReason: { type: 'end_turn' } });
  assert.equal(renderer.stats.toolCalls, 2);
  assert.equal(renderer.stats.failedToolCalls, 0);
  assert.equal(renderer.stats.modelRequests, 3);
  assert.deepEqual(renderer.stats.spanUsage, { input: 846 + 1080 + 1193, output: 143 + 24 + 30, cacheRead: 0, cacheWrite: 0 });
});

test('the spinner shows while the model thinks and while a tool runs, and is gone at idle', () => {
  const { outputs } = renderAll(recorded('quickstart-events'));
  const events = recorded('quickstart-events');
  const spinnerAfter = (type: string, nth = 0) => outputs[events.map((e, i) => [e.type, i] as const).filter(([t]) => t === type)[nth]![1]]!.spinner;
  assert.equal(spinnerAfter('span.model_request_start'), 'thinking…');
  assert.equal(spinnerAfter('agent.message'), 'thinking…', 'text arriving mid-request keeps the spinner');
  assert.equal(spinnerAfter('span.model_request_end'), 'running write…');
  assert.equal(spinnerAfter('agent.tool_result'), null);
  assert.equal(spinnerAfter('span.model_request_end', 1), 'running bash…');
  assert.equal(outputs.at(-1)!.spinner, null);
});

test('the explore session (any other task) renders and ends', () => {
  const { text, end } = renderAll(recorded('explore-events'));
  assert.match(text, /^› What is in my workspace\?/);
  assert.match(text, /scripted demo model/);
  assert.match(text, /▸ bash \$ cd \/workspace && pwd/);
  assert.match(text, /  ⎿ \/workspace/);
  assert.equal(end?.kind, 'idle');
});

test('long tool output is cut to a few lines, and long lines to the width', () => {
  const output = Array.from({ length: 30 }, (_, i) => `line ${i + 1} ${'x'.repeat(i === 0 ? 300 : 3)}`).join('\n');
  const { outputs } = renderAll(
    [ev('agent.tool_use', 't1', { name: 'bash', input: { command: 'seq 30' } }), ev('agent.tool_result', 'r1', { tool_use_id: 't1', content: [{ type: 'text', text: output }], is_error: false })],
    { maxResultLines: 3, maxLineChars: 40 },
  );
  const lines = outputs[1]!.lines.map((l) => l.text);
  assert.equal([...lines[0]!].length, 40);
  assert.match(lines[0]!, /^  ⎿ line 1 x+…$/);
  assert.deepEqual(lines.slice(1), ['    line 2 xxx', '    line 3 xxx', '    … 27 more lines']);
});

test('a failing tool is marked, counted, and the run goes on', () => {
  const { outputs, renderer } = renderAll([
    ev('agent.tool_use', 't1', { name: 'bash', input: { command: 'false' } }),
    ev('agent.tool_result', 'r1', { tool_use_id: 't1', content: [{ type: 'text', text: 'exit code 1' }], is_error: true }),
    ev('agent.tool_result', 'r2', { tool_use_id: 't2', content: [], is_error: true }),
  ]);
  assert.deepEqual(outputs[1]!.lines, [{ tone: 'error', text: '  ⎿ ✗ exit code 1' }]);
  assert.deepEqual(outputs[2]!.lines, [{ tone: 'error', text: '  ⎿ ✗ (failed, no output)' }]);
  assert.equal(renderer.stats.failedToolCalls, 2);
  assert.equal(outputs[1]!.end, undefined);
});

test('session errors say what happened and whether it is retried', () => {
  const error = (retry: string) =>
    ev('session.error', `e-${retry}`, { error: { type: 'model_overloaded_error', message: 'Overloaded\nplease wait', retry_status: { type: retry } } });
  const { outputs, renderer } = renderAll([error('retrying'), error('exhausted'), error('terminal'), ev('session.status_rescheduled', 'rs')]);
  assert.deepEqual(
    outputs.map((o) => o.lines[0]),
    [
      { tone: 'error', text: '✗ session error (model_overloaded_error): Overloaded ⏎ please wait — retrying' },
      { tone: 'error', text: '✗ session error (model_overloaded_error): Overloaded ⏎ please wait — gave up on this turn' },
      { tone: 'error', text: '✗ session error (model_overloaded_error): Overloaded ⏎ please wait — the session will end' },
      { tone: 'warn', text: '  (rescheduled after a transient failure; resuming)' },
    ],
  );
  assert.equal(renderer.stats.errors, 3);
});

test('an idle replayed from before the run does not end it; duplicates are shown once', () => {
  const userMessage = ev('user.message', 'u1', { content: [{ type: 'text', text: 'hi' }] });
  const message = ev('agent.message', 'm1', { content: [{ type: 'text', text: 'hello' }] });
  const { outputs, text } = renderAll([
    ev('session.status_idle', 'i0', { stop_reason: { type: 'end_turn' }, stop_details: null }),
    userMessage,
    message,
    message,
    ev('session.status_idle', 'i1', { stop_reason: { type: 'end_turn' }, stop_details: null }),
  ]);
  assert.equal(outputs[0]!.end, undefined);
  assert.equal(text, '› hi\nhello');
  assert.deepEqual(outputs[4]!.end, { kind: 'idle', stopReason: { type: 'end_turn' } });
});

test('requires_action names the tool calls that wait; termination ends the run', () => {
  const { outputs } = renderAll([
    ev('session.status_running', 's'),
    ev('agent.tool_use', 't1', { name: 'bash', input: { command: 'rm -rf build' }, evaluated_permission: 'ask' }),
    ev('session.status_idle', 'i', { stop_reason: { type: 'requires_action', event_ids: ['t1'] }, stop_details: null }),
    ev('session.status_terminated', 'x'),
  ]);
  assert.deepEqual(outputs[1]!.lines.map((l) => l.text), ['▸ bash $ rm -rf build', '  ⎿ waiting for confirmation']);
  assert.equal(outputs[2]!.lines[0]!.text, 'The agent waits for a decision on 1 tool call(s): bash');
  assert.equal(outputs[2]!.end?.kind, 'idle');
  assert.deepEqual(outputs[3]!.end, { kind: 'terminated' });
});

test('escape sequences in tool output and model text never reach the terminal', () => {
  const { text } = renderAll([
    ev('agent.message', 'm', { content: [{ type: 'text', text: 'a\u001b[2Jb\u0007c\r\nd' }] }),
    ev('agent.tool_result', 'r', { tool_use_id: 'x', content: [{ type: 'text', text: '\u001b]0;title\u0007ok\u001b[31mred\u001b[0m' }], is_error: false }),
  ]);
  assert.doesNotMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f]/);
  assert.equal(sanitize('tab\tkept\nnewline kept'), 'tab\tkept\nnewline kept');
});

test('tool inputs are summarised by tool', () => {
  assert.equal(summarizeToolInput('bash', { command: 'echo a\necho b\necho c' }), '$ echo a (+2 more lines)');
  assert.equal(summarizeToolInput('bash', { restart: true }), '(restart the shell)');
  assert.equal(summarizeToolInput('read', { file_path: '/workspace/a.py', view_range: [1, 20] }), '/workspace/a.py [lines 1-20]');
  assert.equal(summarizeToolInput('write', { file_path: 'a.txt', content: 'x\ny\n' }), 'a.txt (2 lines)');
  assert.equal(summarizeToolInput('edit', { file_path: 'a.txt', old_string: 'x', new_string: 'y', replace_all: true }), 'a.txt (all occurrences)');
  assert.equal(summarizeToolInput('glob', { pattern: '**/*.ts', path: 'src' }), '**/*.ts in src');
  assert.equal(summarizeToolInput('grep', { pattern: 'TODO' }), 'TODO');
  assert.equal(summarizeToolInput('web_fetch', { url: 'https://example.com' }), 'https://example.com');
  assert.equal(summarizeToolInput('lookup_order', { order_id: 42 }), '{"order_id":42}');
});

test('the banner never calls the scripted model Claude', () => {
  assert.equal(
    renderModelBanner({ agentModel: 'claude-sonnet-5-5', server: { kind: 'scripted', base_url: 'http://127.0.0.1:1' } }).text,
    'model: scripted demo model, not Claude (no ANTHROPIC_API_KEY on the server; the agent asks for claude-sonnet-5-5)',
  );
  assert.match(renderModelBanner({ agentModel: 'claude-opus-5-5', server: { kind: 'anthropic', base_url: 'https://api.example' } }).text, /^model: claude-opus-5-5 \(Claude via/);
  assert.match(renderModelBanner({ agentModel: 'claude-opus-5-5', server: undefined }).text, /^model: claude-opus-5-5/);
});

test('the summary gives stop reason, wall time, tool calls and tokens', () => {
  const { renderer, end } = renderAll(recorded('quickstart-events'));
  const lines = renderRunSummary({
    end: end!,
    stats: renderer.stats,
    sessionUsage: { input: 3119, output: 197, cacheRead: 10, cacheWrite: 20, listCostUsd: '0.012312' },
    wallMs: 2345,
    sessionId: 'sesn_1',
  }).map((l) => l.text);
  assert.deepEqual(lines.slice(1), [
    '✓ stop reason: end_turn (the agent finished) · 2.3 s · 2 tool calls · 3 model requests',
    '  tokens: 3119 input · 197 output · 10 cache read · 20 cache write · $0.012312 at list prices',
    '  session: sesn_1',
  ]);
  const fromSpans = renderRunSummary({ end: { kind: 'terminated' }, stats: renderer.stats, sessionUsage: undefined, wallMs: 61_000, sessionId: 's' }).map((l) => l.text);
  assert.equal(fromSpans[1], '! session terminated · 1 min 1 s · 2 tool calls · 3 model requests');
  assert.equal(fromSpans[2], '  tokens: 3119 input · 197 output · 0 cache read · 0 cache write (summed from this run)');
  assert.equal(formatDuration(250), '250 ms');
});
