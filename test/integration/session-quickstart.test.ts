import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript, QUICKSTART_TASK, userMessage } from '../../src/testing/index.ts';
import { findSessionContainerId } from '../support/docker.ts';
import { eventually } from '../support/eventually.ts';
import { QUICKSTART_TURN_EVENT_TYPES } from '../support/quickstart-events.ts';
import { assertGaplessLog, collectEvents, isIdle, startHarness, startTestTemporal } from '../support/harness.ts';

const agent = { name: 'coder', model: 'claude-sonnet-5-5', system: 'You are a careful engineer.', tools: [{ type: 'agent_toolset_20260401' as const }] };

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

test('the quickstart task runs to end_turn in a real sandbox, with a gapless event log', async () => {
  await using h = await startHarness({ temporal, script: demoAgentScript });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage(QUICKSTART_TASK)] });
  assert.match(session.id, /^sesn_011C[0-9A-Za-z]{20}$/);

  const events = await collectEvents(h.longhaul, session.id, isIdle);
  const idle = events.at(-1);
  assert.equal(idle?.type, 'session.status_idle');
  assert.deepEqual(idle.type === 'session.status_idle' && idle.stop_reason, { type: 'end_turn' });

  assert.deepEqual(events.map((e) => e.type), QUICKSTART_TURN_EVENT_TYPES);
  const toolUses = events.filter((e) => e.type === 'agent.tool_use');
  const toolResults = events.filter((e) => e.type === 'agent.tool_result');
  assert.deepEqual(toolResults.map((r) => r.type === 'agent.tool_result' && r.tool_use_id), toolUses.map((u) => u.id), 'results point at their tool_use events');
  assert.ok(toolResults.every((r) => r.type === 'agent.tool_result' && r.is_error === false), JSON.stringify(toolResults));

  const final = events.findLast((e) => e.type === 'agent.message');
  const finalText = final?.type === 'agent.message' ? final.content.map((b) => (b.type === 'text' ? b.text : '')).join('') : '';
  assert.match(finalText, /largest prime is 229/);
  assert.match(finalText, /sum of all 50 primes is 5117/);

  // The file really exists in the session's sandbox.
  const sandbox = await h.sandboxes.ensure({ sessionId: session.id, networking: { type: 'limited' } });
  const check = await sandbox.runTool({ toolUseId: 'toolu_check_primes', name: 'bash', input: { command: 'wc -l < /workspace/primes.txt; tail -n 1 /workspace/primes.txt' } });
  assert.deepEqual(check.content[0]?.text.trim().split(/\s+/), ['50', '229']);

  // Usage and spans: every model request start has an end that points at it.
  const starts = events.filter((e) => e.type === 'span.model_request_start').map((e) => e.id);
  const ends = events.filter((e) => e.type === 'span.model_request_end');
  assert.deepEqual(ends.map((e) => e.type === 'span.model_request_end' && e.model_request_start_id), starts);
  assert.ok(ends.every((e) => e.type === 'span.model_request_end' && e.is_error === false && e.model_usage.output_tokens > 0));

  const log = await assertGaplessLog(h.store, session.id);
  // The model API key reaches neither the event log nor the sandbox.
  assert.doesNotMatch(JSON.stringify(log), /test-key/);
  const inspect = execFileSync('docker', ['inspect', await findSessionContainerId(session.id)]).toString();
  assert.doesNotMatch(inspect, /test-key|ANTHROPIC/);
  assert.doesNotMatch(check.content[0]?.text ?? '', /test-key/);
  const env = await sandbox.runTool({ toolUseId: 'toolu_check_env', name: 'bash', input: { command: 'env; cat /proc/1/environ | tr "\\0" "\\n"' } });
  assert.match(env.content[0]?.text ?? '', /HOME=/, 'the environment was read');
  assert.doesNotMatch(env.content[0]?.text ?? '', /test-key|ANTHROPIC/);
  const info = await h.longhaul.sessions.retrieve(session.id);
  assert.equal(info.status, 'idle');
  assert.ok(info.usage.output_tokens > 0);
  h.model.assertNoUnscriptedCalls();

  // The model saw the system prompt, the toolset, and prompt-caching breakpoints.
  const firstCall = h.model.calls[0]!.body;
  assert.deepEqual(
    (firstCall.tools ?? []).map((t) => ('name' in t ? t.name : t.type)),
    ['bash', 'read', 'write', 'edit', 'glob', 'grep', 'web_fetch', 'web_search'],
  );
  assert.deepEqual(firstCall.system, [{ type: 'text', text: agent.system, cache_control: { type: 'ephemeral' } }]);
});

test('a second user.message after idle continues the same conversation and container', async () => {
  await using h = await startHarness({
    temporal,
    script: (request, { callIndex }) => {
      switch (callIndex) {
        case 0:
          return { content: [{ type: 'tool_use', name: 'bash', input: { command: 'echo first > /workspace/note.txt' } }] };
        case 1:
          return { content: [{ type: 'text', text: 'wrote note' }] };
        case 2:
          // The second turn sees the whole first turn.
          assert.equal(request.messages.length, 5);
          return { content: [{ type: 'tool_use', name: 'bash', input: { command: 'cat /workspace/note.txt' } }] };
        default:
          return { content: [{ type: 'text', text: 'read note' }] };
      }
    },
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('write a note')] });
  const turn1 = await collectEvents(h.longhaul, session.id, isIdle);
  const containerAfterTurn1 = await findSessionContainerId(session.id);
  await h.longhaul.events.send(session.id, [userMessage('now read it back')]);
  const turn2 = await collectEvents(h.longhaul, session.id, isIdle, { after: turn1.at(-1)!.id });
  assert.equal(turn2[0]?.type, 'user.message');
  const out2 = turn2.find((e) => e.type === 'agent.tool_result');
  const text = (e: typeof out2) => (e?.type === 'agent.tool_result' ? (e.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('') : '');
  assert.equal(text(out2).trim(), 'first');
  assert.equal(await findSessionContainerId(session.id), containerAfterTurn1, 'same container');
  assert.equal(h.model.callCount, 4);
  h.model.assertNoUnscriptedCalls();
  await assertGaplessLog(h.store, session.id);
});

test('a user.message sent while the agent works is delivered at its next model turn', async () => {
  await using h = await startHarness({
    temporal,
    script: (request, { callIndex }) => {
      if (callIndex === 0) return { content: [{ type: 'tool_use', name: 'bash', input: { command: 'sleep 2; echo slept' } }] };
      if (callIndex === 1) {
        // The mid-run message arrives together with the tool result.
        const last = JSON.stringify(request.messages.at(-1));
        assert.match(last, /tool_result/);
        assert.match(last, /also: say hello/);
        return { content: [{ type: 'text', text: 'hello, and the sleep is done' }] };
      }
      return undefined;
    },
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('sleep a bit')] });
  await collectEvents(h.longhaul, session.id, (e) => e.type === 'agent.tool_use');
  await h.longhaul.events.send(session.id, [userMessage('also: say hello')]);
  const events = await collectEvents(h.longhaul, session.id, isIdle);
  const types = events.map((e) => e.type);
  assert.equal(types.filter((t) => t === 'session.status_idle').length, 1, 'one turn');
  assert.ok(types.lastIndexOf('user.message') > types.indexOf('agent.tool_result'), 'the message is logged when it is delivered');
  assert.equal(h.model.callCount, 2);
  h.model.assertNoUnscriptedCalls();
  await assertGaplessLog(h.store, session.id);
});

/** The ids of the session's containers: running ones, or with `all`, any. */
const sessionContainers = (sessionId: string, { all = false } = {}) =>
  execFileSync('docker', ['ps', '-q', ...(all ? ['-a'] : []), '--filter', `label=longhaul.session=${sessionId}`]).toString().trim();

test('a new session starts its container before its first message; unused, it gives it back after idleSandboxReleaseMs', async () => {
  await using h = await startHarness({ temporal, script: [] });
  const session = await h.longhaul.sessions.create({ agent, tuning: { idleSandboxReleaseMs: 4000 } });
  await eventually('the new session’s container to run', () => sessionContainers(session.id) !== '', { timeoutMs: 30_000, everyMs: 100 });
  await eventually('the unused container to be removed', () => sessionContainers(session.id, { all: true }) === '', { timeoutMs: 30_000, everyMs: 250 });
  assert.ok(existsSync(h.sandboxes.diskImagePath(session.id)), 'its disk stays');
  assert.equal(h.model.callCount, 0, 'no model call without a message');
  const events = await h.longhaul.events.list(session.id);
  assert.deepEqual(events.map((e) => e.type), [], 'starting the container records nothing');
});

test('an agent without sandbox tools gets no container, neither as its session begins nor for a turn', async () => {
  await using h = await startHarness({ temporal, script: [{ content: [{ type: 'text', text: 'no tools needed' }] }] });
  const chat = { ...agent, tools: [{ type: 'agent_toolset_20260401' as const, default_config: { enabled: false }, configs: [{ name: 'web_fetch' as const, enabled: true }] }] };
  const session = await h.longhaul.sessions.create({ agent: chat });
  await h.longhaul.events.send(session.id, [userMessage('hello')]);
  const events = await collectEvents(h.longhaul, session.id, isIdle);
  assert.ok(events.some((e) => e.type === 'agent.message'), 'the agent answered');
  const history = await h.client.workflow.getHandle(session.id).fetchHistory();
  const activities = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
  assert.ok(activities.includes('callModel') && !activities.includes('ensureSandbox'), activities.join(', '));
  assert.equal(sessionContainers(session.id, { all: true }), '', 'no container');
});

test('calls that wait for the user start no container for an agent without sandbox tools: a custom tool, a web fetch held for approval', async () => {
  await using h = await startHarness({
    temporal,
    script: [{ content: [{ type: 'tool_use', name: 'lookup', input: { word: 'longhaul' } }, { type: 'tool_use', name: 'web_fetch', input: { url: 'https://example.com/' } }] }, { content: [{ type: 'text', text: 'done' }] }],
  });
  const clientAgent = {
    ...agent,
    tools: [
      { type: 'agent_toolset_20260401' as const, default_config: { enabled: false }, configs: [{ name: 'web_fetch' as const, enabled: true, permission_policy: { type: 'always_ask' as const } }] },
      { type: 'custom' as const, name: 'lookup', description: 'Looks a word up', input_schema: { type: 'object' as const, properties: { word: { type: 'string' } } } },
    ],
  };
  const session = await h.longhaul.sessions.create({ agent: clientAgent });
  await h.longhaul.events.send(session.id, [userMessage('look it up and fetch the page')]);
  const waiting = await collectEvents(h.longhaul, session.id, isIdle);
  const idle = waiting.at(-1);
  assert.equal(idle?.type === 'session.status_idle' && idle.stop_reason?.type, 'requires_action', JSON.stringify(idle));
  const lookup = waiting.find((e) => e.type === 'agent.custom_tool_use');
  const fetch = waiting.find((e) => e.type === 'agent.tool_use');
  assert.ok(lookup && fetch, waiting.map((e) => e.type).join(', '));
  await h.longhaul.events.send(session.id, [
    { type: 'user.custom_tool_result', custom_tool_use_id: lookup.id, content: [{ type: 'text', text: 'a word' }] },
    { type: 'user.tool_confirmation', tool_use_id: fetch.id, result: 'deny', deny_message: 'not now' },
  ]);
  await collectEvents(h.longhaul, session.id, (e, all) => isIdle(e) && all.some((x) => x.type === 'agent.message'), { after: idle!.id });
  const history = await h.client.workflow.getHandle(session.id).fetchHistory();
  const activities = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
  assert.ok(!activities.includes('ensureSandbox'), activities.join(', '));
  assert.equal(sessionContainers(session.id, { all: true }), '', 'no container');
});

test('a session deleted while its container starts leaves none behind', async () => {
  await using h = await startHarness({ temporal, script: [] });
  const session = await h.longhaul.sessions.create({ agent });
  await h.longhaul.sessions.delete(session.id);
  await h.client.workflow.getHandle(session.id).result();
  // The start it waited for is over, and the removal ran after it: nothing comes back later.
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(sessionContainers(session.id, { all: true }), '', 'no container of the deleted session');
  assert.ok(!existsSync(h.sandboxes.diskImagePath(session.id)), 'nor its disk');
});

test('a session whose sandbox can never start (its image is missing) still answers, and ends when deleted', async () => {
  await using h = await startHarness({
    temporal,
    script: [{ content: [{ type: 'tool_use', name: 'bash', input: { command: 'true' } }] }, { content: [{ type: 'text', text: 'no sandbox' }] }],
  });
  const session = await h.longhaul.sessions.create({ agent, environment: { image: 'longhaul-no-such-image:never' } });
  await h.longhaul.events.send(session.id, [userMessage('try')]);
  const events = await collectEvents(h.longhaul, session.id, isIdle);
  const result = events.find((e) => e.type === 'agent.tool_result');
  assert.ok(result?.type === 'agent.tool_result' && result.is_error === true, JSON.stringify(result));
  assert.match(JSON.stringify(result.content), /sandbox could not start/);
  await h.longhaul.sessions.delete(session.id);
  // A start that fails for good is not retried for ever: the removal after it runs, and the workflow ends.
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([h.client.workflow.getHandle(session.id).result().then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), 60_000)))]).finally(() =>
    clearTimeout(timer),
  );
  assert.ok(ended, 'the deleted session’s workflow ended');
});

test('an idle session gives its container back after idleSandboxReleaseMs; the next turn gets a new one with /workspace intact', async () => {
  await using h = await startHarness({
    temporal,
    script: [
      { content: [{ type: 'tool_use', name: 'bash', input: { command: 'echo still-here > /workspace/keep.txt' } }] },
      { content: [{ type: 'text', text: 'saved' }] },
      { content: [{ type: 'tool_use', name: 'bash', input: { command: 'cat /workspace/keep.txt' } }] },
      { content: [{ type: 'text', text: 'read' }] },
    ],
  });
  const session = await h.longhaul.sessions.create({ agent, events: [userMessage('save')], tuning: { idleSandboxReleaseMs: 1000 } });
  const turn1 = await collectEvents(h.longhaul, session.id, isIdle);
  const first = await findSessionContainerId(session.id);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && execFileSync('docker', ['ps', '-q', '--filter', `label=longhaul.session=${session.id}`]).toString().trim()) {
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(execFileSync('docker', ['ps', '-aq', '--filter', `label=longhaul.session=${session.id}`]).toString().trim(), '', 'the idle container was removed');
  assert.ok(existsSync(h.sandboxes.diskImagePath(session.id)), 'its disk stays');

  await h.longhaul.events.send(session.id, [userMessage('read it back')]);
  const turn2 = await collectEvents(h.longhaul, session.id, isIdle, { after: turn1.at(-1)!.id });
  const result = turn2.find((e) => e.type === 'agent.tool_result');
  assert.equal(result?.type === 'agent.tool_result' ? (result.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('').trim() : '', 'still-here');
  assert.notEqual(await findSessionContainerId(session.id), first, 'a new container');
  await assertGaplessLog(h.store, session.id);
});
