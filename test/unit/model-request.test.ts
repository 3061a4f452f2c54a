import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildModelRequest } from '../../activities/model/model-request.ts';
import { answerEvents } from '../../activities/model/server-tool-events.ts';
import { deterministicId } from '../../src/store/ids.ts';

const agent = { name: 'a', model: { id: 'claude-sonnet-5-5' }, system: 'Be brief.', tools: [{ type: 'agent_toolset_20260401' as const, configs: [{ name: 'grep' as const, enabled: false }] }] };

test('the request carries model, system and enabled tools with cache breakpoints on tools, system and the newest message', () => {
  const request = buildModelRequest({ agent, transcript: [{ kind: 'user', content: [{ type: 'text', text: 'hi' }] }], maxTokens: 1000 });
  assert.equal(request.model, 'claude-sonnet-5-5');
  assert.equal(request.max_tokens, 1000);
  assert.deepEqual(request.system, [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }]);
  const names = (request.tools ?? []).map((t) => ('name' in t ? t.name : ''));
  assert.deepEqual(names, ['bash', 'read', 'write', 'edit', 'glob', 'web_fetch', 'web_search']);
  assert.deepEqual((request.tools ?? []).at(-1)?.cache_control, { type: 'ephemeral' });
  assert.equal((request.tools ?? []).filter((t) => t.cache_control).length, 1);
  assert.deepEqual(request.messages, [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] }]);
});

/** The texts of the system blocks (always blocks here). */
const systemTexts = (system: string | { text: string }[] | undefined) => (Array.isArray(system) ? system.map((block) => block.text) : []);

test("an agent's skills are listed in the system prompt, between its own prompt and memory: name, SKILL.md path, description, never the instructions", () => {
  const skills = [
    { skill_id: 'skill_1', version: 'skillver_1', name: 'pdf-tools', description: 'Fill in\nPDF forms.', path: '/mnt/skills/pdf-tools' },
    { skill_id: 'skill_2', version: 'skillver_2', name: 'pdf-tools', description: 'Another of the same name.', path: '/mnt/skills/pdf-tools-2' },
  ];
  const request = buildModelRequest({ agent: { ...agent, skills }, memoryPrompt: '# Memory', transcript: [], maxTokens: 1000 });
  const texts = systemTexts(request.system);
  assert.equal(texts.length, 3);
  assert.equal(texts[0], 'Be brief.');
  assert.equal(texts[2], '# Memory');
  assert.match(texts[1]!, /^# Skills\n/);
  assert.deepEqual(texts[1]!.split('\n').slice(-2), ['- pdf-tools (/mnt/skills/pdf-tools/SKILL.md): Fill in PDF forms.', '- pdf-tools (/mnt/skills/pdf-tools-2/SKILL.md): Another of the same name.']);
  // Without skills there is no such section.
  assert.deepEqual(systemTexts(buildModelRequest({ agent, transcript: [], maxTokens: 1000 }).system), ['Be brief.']);
});

test('with serverWebTools the web tools are Anthropic server tools', () => {
  const request = buildModelRequest({ agent, transcript: [], maxTokens: 1000, serverWebTools: true });
  const server = (request.tools ?? []).filter((t) => 'type' in t && t.type !== 'custom' && t.type !== undefined);
  assert.deepEqual(server.map((t) => ('type' in t ? t.type : '')), ['web_fetch_20250910', 'web_search_20250305']);
});

test('server tool blocks become an agent.tool_use / agent.tool_result pair', () => {
  const content = [
    { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'temporal' }, caller: { type: 'direct' } },
    { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', caller: { type: 'direct' }, content: [{ type: 'web_search_result', title: 'Temporal', url: 'https://temporal.io', encrypted_content: 'x', page_age: null }] },
    { type: 'text', text: 'Found it.', citations: null },
  ] as never;
  const events = answerEvents({ sessionId: 'sesn_1', callKey: 'call:0', content });
  assert.deepEqual(events.map((e) => e.event.type), ['agent.tool_use', 'agent.tool_result', 'agent.message']);
  assert.equal(events[1]?.event['tool_use_id'], deterministicId('sevt', 'sesn_1', 'call:0:block:0'));
  assert.deepEqual(events[1]?.event['content'], [{ type: 'text', text: '1. Temporal\n   https://temporal.io' }]);
  assert.equal(events[1]?.event['is_error'], false);
});
