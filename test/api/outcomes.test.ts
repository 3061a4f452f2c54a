/**
 * Outcomes through the official SDK: the user states what done looks like, a grader
 * child workflow checks the agent's work in a context of its own after each turn, and
 * its verdict sends the agent back, lets it finish, or ends the outcome.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { toFile } from '@anthropic-ai/sdk';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastToolResults, lastUserText, text, toolUse, type ScriptedRequest, type ScriptedTurn } from '../../src/testing/index.ts';
import { bashInSandbox, startTestTemporal } from '../support/harness.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';
import { idleWith, sessionLog, waitForEvent, type LoggedEvent } from './session-log.ts';

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

const isGrader = (request: ScriptedRequest) => JSON.stringify(request.system ?? '').includes('You are the grader');
const verdict = (result: string, explanation: string): ScriptedTurn => ({ content: [text(JSON.stringify({ result, explanation }))], usage: { input_tokens: 700, output_tokens: 40 } });

/** A script in two halves: the agent's turns and the grader's, each answered in order; every request is kept. */
function twoParty(agent: (request: ScriptedRequest, n: number) => ScriptedTurn, grader: (request: ScriptedRequest, n: number) => ScriptedTurn) {
  const seen = { agent: [] as ScriptedRequest[], grader: [] as ScriptedRequest[] };
  const script = (request: ScriptedRequest) => {
    if (isGrader(request)) return grader(request, seen.grader.push(request) - 1);
    return agent(request, seen.agent.push(request) - 1);
  };
  return { script, seen };
}

async function outcomeSession(f: ApiFixture, outcome: Record<string, unknown>) {
  const agent = await f.client.beta.agents.create({ name: 'worker', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await f.client.beta.environments.create({ name: 'outcome-env' });
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  const sent = await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.define_outcome', ...outcome } as never] });
  return { session, echo: sent.data?.[0] as Extract<LoggedEvent, { type: 'user.define_outcome' }> };
}

const ends = (log: LoggedEvent[]) => log.filter((e): e is Extract<LoggedEvent, { type: 'span.outcome_evaluation_end' }> => e.type === 'span.outcome_evaluation_end');
const starts = (log: LoggedEvent[]) => log.filter((e): e is Extract<LoggedEvent, { type: 'span.outcome_evaluation_start' }> => e.type === 'span.outcome_evaluation_start');

test('satisfied on the first try: the grader sees the task, the rubric and the report, not the agent\'s tool calls; its tokens count', async () => {
  const { script, seen } = twoParty(
    (_r, n) => (n === 0 ? { content: [toolUse('bash', { command: 'echo UNSEEN_BY_GRADER > /workspace/poem.txt' })] } : { content: [text('The poem is in /workspace/poem.txt.')] }),
    () => verdict('satisfied', 'Every line rhymes.'),
  );
  await using f = await startApiFixture({ temporal, script });
  const { session, echo } = await outcomeSession(f, { description: 'Write a rhyming poem', rubric: { type: 'text', content: 'RUBRIC: every line rhymes' } });
  assert.match(echo.outcome_id, /^outc_/);
  assert.deepEqual([echo.description, echo.max_iterations, echo.rubric], ['Write a rhyming poem', 3, { type: 'text', content: 'RUBRIC: every line rhymes' }]);

  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  const defined = log.find((e) => e.type === 'user.define_outcome');
  assert.equal(defined?.type === 'user.define_outcome' && defined.outcome_id, echo.outcome_id, 'the log names the outcome as the echo did');
  const [start] = starts(log);
  const [end] = ends(log);
  assert.deepEqual([start?.outcome_id, start?.iteration], [echo.outcome_id, 0]);
  assert.deepEqual([end?.outcome_evaluation_start_id, end?.outcome_id, end?.iteration, end?.result, end?.explanation], [start?.id, echo.outcome_id, 0, 'satisfied', 'Every line rhymes.']);
  assert.deepEqual([end?.usage.input_tokens, end?.usage.output_tokens], [700, 40]);
  assert.ok(log.indexOf(start!) < log.indexOf(end!) && log.indexOf(end!) < log.findIndex(idleWith('end_turn')));

  const graderRequest = JSON.stringify(seen.grader[0]);
  assert.match(graderRequest, /RUBRIC: every line rhymes/);
  assert.match(graderRequest, /Write a rhyming poem/);
  assert.match(graderRequest, /The poem is in \/workspace\/poem.txt/);
  assert.doesNotMatch(graderRequest, /UNSEEN_BY_GRADER|tool_use|bash/, 'no agent tool call reaches the grader');
  assert.equal(seen.grader.length, 1);
  assert.equal(seen.grader[0]?.model, 'claude-sonnet-5-5', "the agent's model grades by default");
  assert.match(lastUserText(seen.agent[0]!), /Write a rhyming poem/);

  const retrieved = await f.client.beta.sessions.retrieve(session.id);
  assert.equal(retrieved.outcome_evaluations.length, 1);
  const evaluation = retrieved.outcome_evaluations[0]!;
  assert.deepEqual([evaluation.outcome_id, evaluation.result, evaluation.iteration, evaluation.explanation], [echo.outcome_id, 'satisfied', 0, 'Every line rhymes.']);
  assert.notEqual(evaluation.completed_at, null);
  const agentUsage = log.filter((e) => e.type === 'span.model_request_end').reduce((sum, e) => sum + (e.type === 'span.model_request_end' ? e.model_usage.input_tokens : 0), 0);
  assert.equal(retrieved.usage.input_tokens, agentUsage + 700, 'the grader\'s tokens are in the session\'s usage');
});

test('the grader may read the workspace, never change it; its reads stay out of the session\'s log', async () => {
  const { script, seen } = twoParty(
    (_r, n) => (n === 0 ? { content: [toolUse('bash', { command: 'printf "roses are red\\nviolets are blue\\n" > /workspace/poem.txt' })] } : { content: [text('Wrote /workspace/poem.txt')] }),
    (_r, n) =>
      n === 0
        ? { content: [toolUse('read', { file_path: '/workspace/poem.txt' }), toolUse('bash', { command: 'rm -f /workspace/poem.txt' })] }
        : verdict('satisfied', 'The file rhymes.'),
  );
  await using f = await startApiFixture({ temporal, script });
  const { session } = await outcomeSession(f, { description: 'Write a poem to /workspace/poem.txt', rubric: { type: 'text', content: 'It rhymes' } });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.equal(ends(log)[0]?.result, 'satisfied');
  assert.equal(seen.grader.length, 2);
  const results = lastToolResults(seen.grader[1]!);
  assert.match(results[0]?.text ?? '', /roses are red/);
  assert.deepEqual([results[1]?.is_error, /may only read/.test(results[1]?.text ?? '')], [true, true]);
  assert.match(await bashInSandbox(f.harness, session.id, 'cat /workspace/poem.txt'), /violets are blue/, 'the grader changed nothing');
  assert.equal(log.filter((e) => e.type === 'agent.tool_use').length, 1, 'only the agent\'s own call is in the log');
});

test('a worker may give graders a model of their own (LONGHAUL_GRADER_MODEL); by default they use the agent\'s', async () => {
  const { script, seen } = twoParty(() => ({ content: [text('done')] }), () => verdict('satisfied', 'ok'));
  await using f = await startApiFixture({ temporal, script, graderModel: 'claude-haiku-5-5' });
  const { session } = await outcomeSession(f, { description: 'x', rubric: { type: 'text', content: 'y' } });
  await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.deepEqual([seen.agent[0]?.model, seen.grader[0]?.model], ['claude-sonnet-5-5', 'claude-haiku-5-5']);
});

test('needs_revision, then satisfied: the agent\'s next turn carries the feedback; two evaluations', async () => {
  const { script, seen } = twoParty(
    (_r, n) => ({ content: [text(`draft ${n + 1}`)] }),
    (_r, n) => (n === 0 ? verdict('needs_revision', 'FEEDBACK: the title is missing') : verdict('satisfied', 'Now it has a title.')),
  );
  await using f = await startApiFixture({ temporal, script });
  const { session, echo } = await outcomeSession(f, { description: 'Write a report', rubric: { type: 'text', content: 'Has a title' } });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.deepEqual(ends(log).map((e) => [e.iteration, e.result]), [[0, 'needs_revision'], [1, 'satisfied']]);
  assert.deepEqual(starts(log).map((e) => e.iteration), [0, 1]);
  assert.equal(log.filter(idleWith('end_turn')).length, 1, 'no idle between the revision and its grading');
  assert.equal(seen.agent.length, 2);
  assert.match(lastUserText(seen.agent[1]!), /needs revision[\s\S]*FEEDBACK: the title is missing/);
  assert.match(JSON.stringify(seen.grader[1]), /draft 2/);
  const [evaluation] = (await f.client.beta.sessions.retrieve(session.id)).outcome_evaluations;
  assert.deepEqual([evaluation?.outcome_id, evaluation?.result, evaluation?.iteration], [echo.outcome_id, 'satisfied', 1]);
});

test('max_iterations reached: the agent gets one closing turn, then the session idles with no further evaluation', async () => {
  const { script, seen } = twoParty(
    (_r, n) => ({ content: [text(`attempt ${n + 1}`)] }),
    () => verdict('needs_revision', 'still not there'),
  );
  await using f = await startApiFixture({ temporal, script });
  const { session } = await outcomeSession(f, { description: 'Do the impossible', rubric: { type: 'text', content: 'Impossible' }, max_iterations: 2 });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.deepEqual(ends(log).map((e) => [e.iteration, e.result]), [[0, 'needs_revision'], [1, 'max_iterations_reached']]);
  assert.equal(seen.grader.length, 2);
  assert.equal(seen.agent.length, 3, 'the work, one revision, one closing turn');
  assert.match(lastUserText(seen.agent[2]!), /No further evaluation follows/);
  assert.equal((await f.client.beta.sessions.retrieve(session.id)).outcome_evaluations[0]?.result, 'max_iterations_reached');
});

test('a grader answer that cannot be read is asked again, then the outcome fails with a clear explanation; the session stays usable', async () => {
  const { script, seen } = twoParty(
    (_r, n) => ({ content: [text(n === 0 ? 'done' : 'hello again')] }),
    () => ({ content: [text('Looks fine to me!')] }),
  );
  await using f = await startApiFixture({ temporal, script });
  const { session } = await outcomeSession(f, { description: 'Anything', rubric: { type: 'text', content: 'Anything' } });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  const [end] = ends(log);
  assert.equal(end?.result, 'failed');
  assert.match(end?.explanation ?? '', /could not be understood after 3 tries[\s\S]*Looks fine to me/);
  assert.equal(seen.grader.length, 3);
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'hi' }] }] });
  const after = await waitForEvent(f.client, session.id, idleWith('end_turn'), { count: 2 });
  assert.equal(ends(after).length, 1, 'a failed outcome is not graded again');
});

test('the grader reports it is working; an interrupt while it works ends the evaluation as interrupted and idles the session', async () => {
  const { script } = twoParty(
    () => ({ content: [text('done')] }),
    // It streams slowly: message_start (its input tokens billed) goes out at once, the verdict never does.
    () => ({ content: [text(JSON.stringify({ result: 'satisfied', explanation: 'late '.repeat(40) }))], usage: { input_tokens: 777, output_tokens: 50 }, eventDelayMs: 2000 }),
  );
  await using f = await startApiFixture({ temporal, script });
  const { session } = await outcomeSession(f, { description: 'Anything', rubric: { type: 'text', content: 'Anything' } });
  // While it works, the grader says so (every five heartbeats: 1 s here).
  const ongoing = await waitForEvent(f.client, session.id, (e) => e.type === 'span.outcome_evaluation_ongoing');
  const beat = ongoing.find((e) => e.type === 'span.outcome_evaluation_ongoing');
  assert.deepEqual(beat?.type === 'span.outcome_evaluation_ongoing' && [beat.iteration, beat.outcome_id], [0, starts(ongoing)[0]?.outcome_id]);
  const asked = Date.now();
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] });
  const log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.ok(Date.now() - asked < 15_000, 'the grader did not run to its end');
  const [end] = ends(log);
  assert.deepEqual([end?.result, end?.outcome_evaluation_start_id], ['interrupted', starts(log)[0]?.id]);
  assert.equal(end?.usage.input_tokens, 777, 'the interrupted grader request is billed');
  const retrieved = await f.client.beta.sessions.retrieve(session.id);
  assert.equal(retrieved.outcome_evaluations[0]?.result, 'interrupted');
  const agentInput = log.reduce((sum, e) => sum + (e.type === 'span.model_request_end' ? e.model_usage.input_tokens : 0), 0);
  assert.equal(retrieved.usage.input_tokens, agentInput + 777, "the session's usage counts it");
});

test('a file rubric is read by the grader; an unknown file is a 404 naming the field; bad outcomes are 400s', async () => {
  const { script, seen } = twoParty(() => ({ content: [text('done')] }), () => verdict('satisfied', 'ok'));
  await using f = await startApiFixture({ temporal, script });
  const file = await f.client.beta.files.upload({ file: await toFile(Buffer.from('FILE RUBRIC: cite three sources\n'), 'rubric.md') });
  const { session } = await outcomeSession(f, { description: 'Research', rubric: { type: 'file', file_id: file.id } });
  await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.match(JSON.stringify(seen.grader[0]), /FILE RUBRIC: cite three sources/);
  assert.equal((await sessionLog(f.client, session.id)).filter((e) => e.type === 'span.outcome_evaluation_end').length, 1);

  const send = (outcome: Record<string, unknown>) => f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.define_outcome', ...outcome } as never] }).catch((e: unknown) => e);
  const missing = (await send({ description: 'x', rubric: { type: 'file', file_id: 'file_nope' } })) as { status?: number; message?: string };
  assert.equal(missing.status, 404);
  assert.match(missing.message ?? '', /events\.0\.rubric\.file_id: file file_nope not found/);
  for (const [bad, field] of [
    [{ description: 'x', rubric: { type: 'text', content: 'r' }, max_iterations: 21 }, /max_iterations/],
    [{ description: '', rubric: { type: 'text', content: 'r' } }, /description/],
    [{ description: 'x', rubric: { type: 'text', content: 'r'.repeat(262_145) } }, /rubric/],
  ] as const) {
    const error = (await send(bad)) as { status?: number; message?: string };
    assert.equal(error.status, 400);
    assert.match(error.message ?? '', field);
  }
});

test('the README snippet: define an outcome, stream until idle, read outcome_evaluations', async () => {
  const { script } = twoParty(
    (_r, n) => ({ content: [text(n === 0 ? 'fizzbuzz.py written' : 'test added too')] }),
    (_r, n) => (n === 0 ? verdict('needs_revision', 'test_fizzbuzz.py is missing') : verdict('satisfied', 'both criteria met')),
  );
  await using f = await startApiFixture({ temporal, script });
  const client = f.client;
  const agent = await client.beta.agents.create({ name: 'Coding Assistant', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
  const environment = await client.beta.environments.create({ name: 'python', config: { type: 'cloud', networking: { type: 'limited' } } });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  const printed: unknown[][] = [];
  const console = { log: (...values: unknown[]) => printed.push(values) };

  const stream = await client.beta.sessions.events.stream(session.id);
  await client.beta.sessions.events.send(session.id, {
    events: [{
      type: 'user.define_outcome',
      description: 'Write fizzbuzz.py and a test for it',
      rubric: { type: 'text', content: '- fizzbuzz.py prints 1..100 with Fizz, Buzz and FizzBuzz\n- test_fizzbuzz.py passes' },
      max_iterations: 3, // evaluate-then-revise cycles; default 3, at most 20
    }],
  });
  for await (const event of stream) {
    if (event.type === 'span.outcome_evaluation_end') console.log(event.iteration, event.result, event.explanation);
    if (event.type === 'session.status_idle') break;
  }
  const { outcome_evaluations } = await client.beta.sessions.retrieve(session.id);

  assert.deepEqual(printed, [[0, 'needs_revision', 'test_fizzbuzz.py is missing'], [1, 'satisfied', 'both criteria met']]);
  assert.deepEqual(outcome_evaluations.map((o) => [o.result, o.iteration, o.explanation]), [['satisfied', 1, 'both criteria met']]);
});
