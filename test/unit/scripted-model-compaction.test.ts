import assert from 'node:assert/strict';
import { test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { reply, ScriptedModelServer, toolUse } from '../../src/testing/index.ts';

const clientFor = (model: ScriptedModelServer) => new Anthropic({ baseURL: model.url, apiKey: 'test-key', maxRetries: 0 });
const big = (characters: number) => 'x'.repeat(characters);
const compactEdit = (value: number) => ({ edits: [{ type: 'compact_20260112' as const, trigger: { type: 'input_tokens' as const, value } }] });

test('a request longer than the window gets the API 400 and reaches no script', async () => {
  await using model = await ScriptedModelServer.start({ script: [reply('fits')], contextWindowTokens: 1_000 });
  const client = clientFor(model);
  await assert.rejects(
    client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: big(8_000) }] }),
    (err: unknown) => err instanceof Anthropic.BadRequestError && /^prompt is too long: \d+ tokens > 1000 maximum$/.test((err.error as { error: { message: string } }).error.message),
  );
  const message = await client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'short' }] });
  assert.deepEqual(message.content, [{ type: 'text', text: 'fits', citations: null }]);
  assert.equal(model.calls[0]?.answer.kind, 'rejected');
  assert.equal(model.remainingTurns, 0, 'the refused call used no turn');
});

test('server-side compaction: past the trigger the answer opens with a compaction block, billed among iterations', async () => {
  await using model = await ScriptedModelServer.start({ script: [reply('after compaction', toolUse('bash', { command: 'ls' })), reply('next')], contextWindowTokens: 200_000 });
  const client = clientFor(model);
  const conversation: Anthropic.Beta.Messages.BetaMessageParam[] = [{ role: 'user', content: big(240_000) }];
  const stream = client.beta.messages.stream({ model: 'm', max_tokens: 100, messages: conversation, betas: ['compact-2026-01-12'], context_management: compactEdit(50_000) });
  const events: string[] = [];
  stream.on('streamEvent', (event) => events.push(event.type === 'content_block_delta' ? event.delta.type : event.type));
  const first = await stream.finalMessage();
  const [block, ...rest] = first.content;
  assert.ok(block?.type === 'compaction');
  assert.match(block.content ?? '', /^Summary of the conversation so far: 1 messages, \d+ input tokens/);
  assert.ok(block.encrypted_content);
  assert.deepEqual(rest.map((b) => b.type), ['text', 'tool_use']);
  assert.ok(events.includes('compaction_delta'), 'streamed as one compaction_delta');
  const iterations = first.usage.iterations ?? [];
  assert.deepEqual(iterations.map((i) => i.type), ['compaction', 'message']);
  assert.ok(iterations[0]!.input_tokens > 60_000, 'the compaction read the whole conversation');
  assert.equal(first.usage.input_tokens, iterations[1]!.input_tokens, 'the top-level counts are the sampling step only');
  assert.ok(first.usage.input_tokens < 1_000, 'the answer was sampled from the summary');

  // The next request sends the answer back; the API counts from the compaction block on.
  conversation.push({ role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: (rest[1] as { id: string }).id, content: 'file' }] });
  const second = await client.beta.messages.create({ model: 'm', max_tokens: 100, messages: conversation, betas: ['compact-2026-01-12'], context_management: compactEdit(50_000) });
  assert.deepEqual(second.content.map((b) => b.type), ['text'], 'under the trigger now: no compaction');
  assert.ok(second.usage.input_tokens < 1_000);
});

test('the compaction edit needs its beta header and a trigger of at least 50,000 tokens', async () => {
  await using model = await ScriptedModelServer.start({ script: [reply('never')] });
  const client = clientFor(model);
  const messages = [{ role: 'user' as const, content: 'hi' }];
  await assert.rejects(client.beta.messages.create({ model: 'm', max_tokens: 10, messages, context_management: compactEdit(60_000) }), /requires the anthropic-beta header compact-2026-01-12/);
  await assert.rejects(client.beta.messages.create({ model: 'm', max_tokens: 10, messages, betas: ['compact-2026-01-12'], context_management: compactEdit(1_000) }), /must be at least 50000 input tokens/);
  assert.equal(model.remainingTurns, 1);
});

test('keepCalls keeps the latest calls only, and still counts and checks them all', async () => {
  await using model = await ScriptedModelServer.start({ script: (_request, { callIndex }) => (callIndex === 3 ? undefined : reply(`#${callIndex}`)), keepCalls: 2 });
  const client = clientFor(model);
  for (let i = 0; i < 6; i++) await client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: `${i}` }] }).catch(() => undefined);
  assert.equal(model.callCount, 6);
  assert.deepEqual(model.calls.map((c) => c.callIndex), [4, 5]);
  assert.throws(() => model.assertNoUnscriptedCalls(), /call #4 \(callIndex 3\)/);
});
