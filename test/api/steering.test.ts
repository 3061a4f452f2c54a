import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastToolResults, lastUserText, text, toolUse, type ScriptFunction, type ScriptedRequest } from '../../src/testing/index.ts';
import { bashInSandbox, startTestTemporal } from '../support/harness.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';
import { idleWith, sessionLog, userText, waitForEvent, type LoggedEvent } from './session-log.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const MODEL = 'claude-sonnet-5-5';

async function sessionFor(f: ApiFixture, agentParams: Record<string, unknown>, session: Record<string, unknown> = {}) {
  const agent = await f.client.beta.agents.create({ name: 'steered', model: MODEL, ...agentParams } as never);
  const environment = await f.client.beta.environments.create({ name: 'steering-env', config: { type: 'cloud', networking: { type: 'unrestricted' } } });
  return f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, ...session } as never);
}

const inSandbox = (f: ApiFixture, sessionId: string, command: string) => bashInSandbox(f.harness, sessionId, command);

const toolResultTexts = (request: ScriptedRequest | undefined) => (request ? lastToolResults(request).map((r) => ({ text: r.text, isError: r.is_error === true })) : []);

test('always_ask: the session idles with requires_action; approving one call runs it, denying the other gives the model the message', async () => {
  const script: ScriptFunction = (_request, { callIndex }) =>
    callIndex === 0
      ? { content: [toolUse('bash', { command: 'echo approved > /workspace/a.txt && echo wrote a' }), toolUse('bash', { command: 'echo nope > /workspace/b.txt' })] }
      : { content: [text('done')] };
  await using f = await startApiFixture({ temporal, script });
  const session = await sessionFor(f, { tools: [{ type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'always_ask' } } }] });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('write two files')] });

  let log = await waitForEvent(f.client, session.id, idleWith('requires_action'));
  const uses = log.filter((e): e is Extract<LoggedEvent, { type: 'agent.tool_use' }> => e.type === 'agent.tool_use');
  assert.equal(uses.length, 2);
  for (const use of uses) {
    assert.equal(use.evaluated_permission, 'ask');
    assert.deepEqual(use.evaluation, { type: 'always_ask' });
  }
  const [first, second] = uses as [(typeof uses)[0], (typeof uses)[0]];
  const waiting = log.findLast((e) => e.type === 'session.status_idle');
  assert.deepEqual(waiting?.type === 'session.status_idle' && waiting.stop_reason, { type: 'requires_action', event_ids: [first.id, second.id] });
  assert.equal(log.filter((e) => e.type === 'agent.tool_result').length, 0, 'nothing ran before approval');
  const held = await f.client.beta.sessions.retrieve(session.id);
  assert.equal(held.status, 'idle');

  // Approve the first: it runs, and the session idles again naming only the second.
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: first.id, result: 'allow' }] });
  log = await waitForEvent(f.client, session.id, idleWith('requires_action'), { count: 2 });
  const rewait = log.findLast((e) => e.type === 'session.status_idle');
  assert.deepEqual(rewait?.type === 'session.status_idle' && rewait.stop_reason, { type: 'requires_action', event_ids: [second.id] });

  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: second.id, result: 'deny', deny_message: 'do not touch b.txt' }] });
  log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  const results = log.filter((e): e is Extract<LoggedEvent, { type: 'agent.tool_result' }> => e.type === 'agent.tool_result');
  // In either order: the approved call runs while the session waits for the second answer, so
  // on a slow machine the denial is recorded before it finishes. The model gets them in call order (below).
  const callOrder = (id: string) => [first.id, second.id].indexOf(id);
  assert.deepEqual(
    results.map((r) => [r.tool_use_id, r.is_error]).sort((a, b) => callOrder(a[0] as string) - callOrder(b[0] as string)),
    [
      [first.id, false],
      [second.id, true],
    ],
  );
  assert.deepEqual(
    log.filter((e) => e.type === 'user.tool_confirmation').map((e) => e.type === 'user.tool_confirmation' && [e.tool_use_id, e.result, e.deny_message ?? null]),
    [
      [first.id, 'allow', null],
      [second.id, 'deny', 'do not touch b.txt'],
    ],
  );

  // The model's next request carries the approved call's output and the denial with the user's message.
  const seen = toolResultTexts(f.harness.model.calls[1]?.body);
  assert.equal(seen.length, 2);
  assert.match(seen[0]!.text, /wrote a/);
  assert.equal(seen[0]!.isError, false);
  assert.match(seen[1]!.text, /denied.*do not touch b\.txt/);
  assert.equal(seen[1]!.isError, true);
  assert.equal((await inSandbox(f, session.id, 'ls /workspace')).trim(), 'a.txt', 'the denied command never ran');
});

test('a custom tool is answered by the SDK toolRunner; the loop resumes with its result', async () => {
  const script: ScriptFunction = (request, { callIndex }) => {
    if (callIndex === 0) return { content: [text('Let me check.'), toolUse('get_weather', { city: 'Paris' })] };
    return { content: [text(`Report: ${lastToolResults(request)[0]?.text ?? 'nothing'}`)] };
  };
  await using f = await startApiFixture({ temporal, script });
  const inputSchema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } as const;
  const weather = betaTool({ name: 'get_weather', description: 'Current weather of a city', inputSchema, run: ({ city }) => `sunny in ${city}` });
  const session = await sessionFor(f, {
    tools: [{ type: 'agent_toolset_20260401' }, { type: 'custom', name: 'get_weather', description: 'Current weather of a city', input_schema: inputSchema }],
  });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('weather in Paris?')] });

  const calls = [];
  for await (const call of f.client.beta.sessions.events.toolRunner(session.id, { tools: [weather], maxIdleMs: 1000 })) calls.push(call);
  assert.deepEqual(
    calls.map((c) => [c.name, c.isError, c.posted]),
    [['get_weather', false, true]],
  );

  const log = await sessionLog(f.client, session.id);
  const use = log.find((e) => e.type === 'agent.custom_tool_use');
  assert.ok(use?.type === 'agent.custom_tool_use');
  assert.deepEqual(use.input, { city: 'Paris' });
  const idles = log.filter((e) => e.type === 'session.status_idle').map((e) => e.type === 'session.status_idle' && e.stop_reason);
  assert.deepEqual(idles, [{ type: 'requires_action', event_ids: [use.id] }, { type: 'end_turn' }]);
  const answer = log.find((e) => e.type === 'user.custom_tool_result');
  assert.ok(answer?.type === 'user.custom_tool_result');
  assert.equal(answer.custom_tool_use_id, use.id);
  const final = log.findLast((e) => e.type === 'agent.message');
  assert.ok(final?.type === 'agent.message');
  assert.deepEqual(final.content, [{ type: 'text', text: 'Report: sunny in Paris' }]);
  // The model was offered the custom tool with its schema.
  const offered = f.harness.model.calls[0]?.body.tools?.find((t) => 'name' in t && t.name === 'get_weather');
  assert.deepEqual(offered && 'input_schema' in offered && offered.input_schema, inputSchema);
});

test('auto: clearly safe calls run, clearly destructive ones are denied by rule, the rest are judged by the model', async () => {
  const judged: string[] = [];
  const script: ScriptFunction = (request, { callIndex }) => {
    const system = typeof request.system === 'string' ? request.system : '';
    if (system.startsWith('You review one tool call')) {
      const input = lastUserText(request);
      judged.push(input);
      return { content: [text(input.includes('deploy') ? '{"decision": "ask", "reason_code": "publishes"}' : '{"decision": "allow", "reason_code": "routine"}')] };
    }
    if (callIndex === 0) {
      return {
        content: [
          toolUse('bash', { command: 'ls -la /workspace' }),
          toolUse('bash', { command: 'rm -rf / --no-preserve-root' }),
          toolUse('bash', { command: 'python3 -c "print(6*7)"' }),
          toolUse('bash', { command: './deploy.sh --prod' }),
        ],
      };
    }
    return { content: [text('finished')] };
  };
  await using f = await startApiFixture({ temporal, script });
  const session = await sessionFor(f, { tools: [{ type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'auto' } } }] });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('tidy up')] });

  let log = await waitForEvent(f.client, session.id, idleWith('requires_action'));
  const uses = log.filter((e): e is Extract<LoggedEvent, { type: 'agent.tool_use' }> => e.type === 'agent.tool_use');
  assert.deepEqual(
    uses.map((u) => [u.evaluated_permission, u.evaluation]),
    [
      ['allow', { type: 'auto', evaluated_permission: { type: 'allow' } }],
      ['deny', { type: 'auto', evaluated_permission: { type: 'deny', reason_code: 'recursive_delete_of_root_or_home' } }],
      ['allow', { type: 'auto', evaluated_permission: { type: 'allow' } }],
      ['ask', { type: 'auto', evaluated_permission: { type: 'ask', reason_code: 'publishes' } }],
    ],
  );
  assert.equal(judged.length, 2, 'only the two unclear calls went to the model');
  const deploy = uses[3]!;
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: deploy.id, result: 'deny' }] });
  log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  const resultOf = (id: string) => log.find((e) => e.type === 'agent.tool_result' && e.tool_use_id === id);
  const denied = resultOf(uses[1]!.id);
  assert.ok(denied?.type === 'agent.tool_result' && denied.is_error === true);
  assert.match(JSON.stringify(denied.content), /denied by the permission policy \(recursive_delete_of_root_or_home\)/);
  const ran = resultOf(uses[2]!.id);
  assert.ok(ran?.type === 'agent.tool_result' && ran.is_error === false);
  assert.match(JSON.stringify(ran.content), /42/);
  // The judge's tokens count toward the session's usage.
  const usage = log.findLast((e) => e.type === 'session.usage');
  assert.ok(usage?.type === 'session.usage');
  const mainInput = f.harness.model.calls
    .filter((c) => typeof c.body.system !== 'string')
    .reduce((n, c) => n + (c.answer.kind === 'reply' ? c.answer.message.usage.input_tokens : 0), 0);
  assert.ok((usage.usage.input_tokens ?? 0) > mainInput, 'judge calls are counted');
});

test('a message and a system.message sent mid-run reach the model at its next request', async () => {
  const script: ScriptFunction = (_request, { callIndex }) =>
    callIndex === 0 ? { content: [toolUse('bash', { command: 'sleep 1.5; echo slept' })] } : { content: [text('ok')] };
  await using f = await startApiFixture({ temporal, script });
  const session = await sessionFor(f, { tools: [{ type: 'agent_toolset_20260401' }] });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('start')] });
  await waitForEvent(f.client, session.id, (e) => e.type === 'agent.tool_use');
  const sent = await f.client.beta.sessions.events.send(session.id, {
    events: [userText('also mention the weather'), { type: 'system.message', content: [{ type: 'text', text: 'Answer in French.' }] }],
  });
  assert.deepEqual(
    sent.data?.map((e) => e.type),
    ['user.message', 'system.message'],
  );
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  const second = f.harness.model.calls[1]?.body;
  assert.ok(second);
  const lastUser = JSON.stringify(second.messages.at(-1));
  assert.match(lastUser, /slept/);
  assert.match(lastUser, /also mention the weather/);
  assert.match(lastUser, /<system-message>\\nAnswer in French\.\\n<\/system-message>/);
  assert.equal(log.filter((e) => e.type === 'session.status_idle').length, 1, 'one turn: the message joined the running one');
  assert.deepEqual(
    log.filter((e) => e.type === 'user.message' || e.type === 'system.message').map((e) => e.id),
    sent.data ? [log.find((e) => e.type === 'user.message')!.id, ...sent.data.map((e) => e.id)] : [],
  );
});

test('a budget of a few cents stops a looping agent with budget_reached; raising it resumes, lifting it lets it finish', async () => {
  // Each call costs 5000 input + 500 output tokens at $3 / $15 per MTok = 2.25 cents.
  const usage = { input_tokens: 5000, output_tokens: 500 };
  const script: ScriptFunction = (_request, { callIndex }) =>
    callIndex < 5 ? { content: [toolUse('bash', { command: `echo step ${callIndex}` })], usage } : { content: [text('finally done')], usage };
  await using f = await startApiFixture({ temporal, script });
  // Amounts are integer strings of cents ("5" is $0.05), as BetaMonetaryAmount documents.
  const cents = (amount: string) => ({ type: 'limit' as const, max_list_cost: { amount, currency: 'USD' as const } });
  await assert.rejects(sessionFor(f, {}, { budget: cents('0.05') }), (error: Error & { status?: number }) => error.status === 400 && /budget\.max_list_cost\.amount/.test(error.message));
  const session = await sessionFor(f, { tools: [{ type: 'agent_toolset_20260401' }] }, { budget: cents('5') });
  assert.deepEqual(session.budget, cents('5'));
  await f.client.beta.sessions.events.send(session.id, { events: [userText('loop forever')] });

  let log = await waitForEvent(f.client, session.id, idleWith('budget_reached'));
  assert.equal(f.harness.model.calls.length, 3, '2.25 → 4.5 → 6.75 cents: the third call crosses 5 cents, no fourth');
  const usages = log.filter((e) => e.type === 'session.usage').map((e) => e.type === 'session.usage' && [e.usage.list_cost?.amount, e.budget?.max_list_cost.amount]);
  assert.deepEqual(usages, [['2', '5'], ['5', '5'], ['7', '5']], 'each figure rounded to the nearest cent; the budget beside it');
  const stopped = await f.client.beta.sessions.retrieve(session.id);
  assert.equal(stopped.status, 'idle');
  assert.deepEqual(stopped.usage.list_cost, { amount: '7', currency: 'USD' });
  assert.equal(stopped.usage.input_tokens, 15000);
  assert.ok((stopped.stats.active_seconds ?? 0) > 0 && (stopped.stats.active_seconds ?? 0) <= (stopped.stats.duration_seconds ?? 0));

  // A new budget must be above what was spent; the refusal changes nothing.
  await assert.rejects(f.client.beta.sessions.update(session.id, { budget: cents('7') }), (error: Error & { status?: number; errorCode?: string | null }) => error.status === 400 && error.errorCode === 'budget_not_raised');
  assert.deepEqual((await f.client.beta.sessions.retrieve(session.id)).budget, cents('5'));

  // Raising it resumes the same turn without a new message.
  await f.client.beta.sessions.update(session.id, { budget: cents('10') });
  log = await waitForEvent(f.client, session.id, idleWith('budget_reached'), { count: 2 });
  assert.equal(f.harness.model.calls.length, 5);
  await f.client.beta.sessions.update(session.id, { budget: null });
  log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.equal(f.harness.model.calls.length, 6);
  assert.equal(log.filter((e) => e.type === 'user.message').length, 1);
  const done = await f.client.beta.sessions.retrieve(session.id);
  assert.equal(done.budget, null);
  assert.deepEqual(done.usage.list_cost, { amount: '14', currency: 'USD' });
  // Each change is in the log as session.updated, with the budget as it became.
  const updates = log.filter((e) => e.type === 'session.updated').map((e) => e.type === 'session.updated' && e.budget);
  assert.deepEqual(updates, [cents('10'), null]);

  // A removed budget cannot come back, and a session created without one cannot take one.
  const refusedAdd = (error: Error & { status?: number; errorCode?: string | null }) => error.status === 400 && error.errorCode === 'budget_create_only';
  await assert.rejects(f.client.beta.sessions.update(session.id, { budget: cents('1000') }), refusedAdd);
  const uncapped = await sessionFor(f, {});
  await assert.rejects(f.client.beta.sessions.update(uncapped.id, { budget: cents('1000') }), refusedAdd);
  await f.client.beta.sessions.update(uncapped.id, { title: 'renamed', metadata: { team: 'a' } });
  const [renamed] = (await sessionLog(f.client, uncapped.id)).filter((e) => e.type === 'session.updated');
  assert.ok(renamed?.type === 'session.updated');
  assert.deepEqual([renamed.title, renamed.metadata, 'budget' in renamed], ['renamed', { team: 'a' }, false]);
});

test('sessions.update replaces the agent\'s tools of an idle session from its next request on; a running session, or a toolset naming no server, is refused', async () => {
  const toolNames = (request: ScriptedRequest | undefined) => (request?.tools ?? []).map((t) => ('name' in t ? t.name : t.type));
  const script: ScriptFunction = (request, { callIndex }) =>
    callIndex === 1 ? { content: [toolUse('bash', { command: 'sleep 5' })] } : { content: [text(`tools: ${toolNames(request).join(',')}`)] };
  await using f = await startApiFixture({ temporal, script });
  const session = await sessionFor(f, { tools: [{ type: 'agent_toolset_20260401' }] });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('first')] });
  await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.ok(toolNames(f.harness.model.calls[0]?.body).includes('bash'));

  // Running (the sleep): refused, and nothing changes.
  await f.client.beta.sessions.events.send(session.id, { events: [userText('second')] });
  await waitForEvent(f.client, session.id, (e) => e.type === 'agent.tool_use');
  const lookup = { type: 'custom' as const, name: 'lookup', description: 'Looks a word up', input_schema: { type: 'object' as const, properties: { word: { type: 'string' } } } };
  await assert.rejects(f.client.beta.sessions.update(session.id, { agent: { tools: [lookup] } }), (error: Error & { status?: number }) => error.status === 409 && /running/.test(error.message));
  await waitForEvent(f.client, session.id, idleWith('end_turn'), { count: 2 });

  await assert.rejects(
    f.client.beta.sessions.update(session.id, { agent: { tools: [{ type: 'mcp_toolset', mcp_server_name: 'nowhere' }] } }),
    (error: Error & { status?: number }) => error.status === 400 && /agent\.tools\.0\.mcp_server_name/.test(error.message),
  );
  const updated = await f.client.beta.sessions.update(session.id, { agent: { tools: [lookup] } });
  assert.deepEqual(updated.agent.tools.map((t) => ('name' in t ? t.name : t.type)), ['lookup']);
  assert.equal(updated.agent.id, session.agent.id, 'the same agent version, its tools replaced for this session');
  assert.deepEqual((await f.client.beta.sessions.retrieve(session.id)).agent.tools, updated.agent.tools);

  await f.client.beta.sessions.events.send(session.id, { events: [userText('third')] });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'), { count: 3 });
  assert.deepEqual(toolNames(f.harness.model.calls.at(-1)?.body), ['lookup'], 'the next request offers only the new tools');
  const change = log.find((e) => e.type === 'session.updated');
  assert.ok(change?.type === 'session.updated');
  assert.deepEqual(change.agent?.tools, updated.agent.tools, 'session.updated carries the whole agent as it became');
});

test('user.interrupt during a 60-second sleep kills the process, idles the session, and the next message works', async () => {
  const script: ScriptFunction = (request, { callIndex }) =>
    callIndex === 0 ? { content: [toolUse('bash', { command: 'sleep 60' })] } : { content: [text(`next: ${lastUserText(request)}`)] };
  await using f = await startApiFixture({ temporal, script });
  const session = await sessionFor(f, { tools: [{ type: 'agent_toolset_20260401' }] });
  await f.client.beta.sessions.events.send(session.id, { events: [userText('sleep')] });
  await waitForEvent(f.client, session.id, (e) => e.type === 'agent.tool_use');
  // The sleep is running in the container. Looked at from a shell of its own: the agent's
  // shell runs one command at a time, so a look from there would wait for the sleep.
  const look = (command: string) => bashInSandbox(f.harness, session.id, command, { shell: 'observer' });
  for (let i = 0; !(await look('pgrep -x sleep || true')).trim(); i++) {
    assert.ok(i < 100, 'sleep never started');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const sentAt = Date.now();
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'), { timeoutMs: 30_000 });
  const idleAfterMs = Date.now() - sentAt;
  assert.ok(idleAfterMs < 20_000, `idle ${idleAfterMs} ms after the interrupt (the sleep would take 60 s)`);
  assert.equal((await look('pgrep -x sleep || echo none')).trim(), 'none', 'the sleep process is gone');
  assert.ok(log.some((e) => e.type === 'user.interrupt'));
  const result = log.find((e) => e.type === 'agent.tool_result');
  assert.ok(result?.type === 'agent.tool_result' && result.is_error === true);

  await f.client.beta.sessions.events.send(session.id, { events: [userText('are you there?')] });
  const after = await waitForEvent(f.client, session.id, idleWith('end_turn'), { count: 2 });
  const reply = after.findLast((e) => e.type === 'agent.message');
  assert.ok(reply?.type === 'agent.message');
  assert.deepEqual(reply.content, [{ type: 'text', text: 'next: are you there?' }]);
});
