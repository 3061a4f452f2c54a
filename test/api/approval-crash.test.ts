import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastToolResults, text, toolUse, type ScriptFunction } from '../../src/testing/index.ts';
import { crashServers } from '../support/crash-servers.ts';
import { kill9 } from '../support/worker-processes.ts';
import { startApiFixture } from './api-fixture.ts';
import { idleWith, userText, waitForEvent } from './session-log.ts';

const servers = crashServers();

test('a worker killed while an approval is pending loses nothing: a new worker runs the call once approved', async () => {
  const script: ScriptFunction = (request, { callIndex }) =>
    callIndex === 0 ? { content: [toolUse('bash', { command: 'echo ran >> /workspace/runs.txt; cat /workspace/runs.txt | wc -l' })] } : { content: [text(`result: ${lastToolResults(request)[0]?.text.trim()}`)] };
  await using f = await startApiFixture({ temporal: servers.temporal, script, postgresUrl: servers.postgres.url, worker: false });
  let worker = await servers.startWorker(f.harness);
  try {
    const agent = await f.client.beta.agents.create({
      name: 'careful',
      model: 'claude-sonnet-5-5',
      tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'bash', permission_policy: { type: 'always_ask' } }] }],
    });
    const environment = await f.client.beta.environments.create({ name: 'env', config: { type: 'cloud', networking: { type: 'unrestricted' } } });
    const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    await f.client.beta.sessions.events.send(session.id, { events: [userText('count runs')] });
    const log = await waitForEvent(f.client, session.id, idleWith('requires_action'));
    const use = log.find((e) => e.type === 'agent.tool_use');
    assert.ok(use);

    await kill9(worker);
    // Nothing runs the session now; the approval waits in Temporal.
    await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.tool_confirmation', tool_use_id: use.id, result: 'allow' }] });
    worker = await servers.startWorker(f.harness);

    const done = await waitForEvent(f.client, session.id, idleWith('end_turn'));
    const results = done.filter((e) => e.type === 'agent.tool_result');
    assert.equal(results.length, 1);
    const final = done.findLast((e) => e.type === 'agent.message');
    assert.ok(final?.type === 'agent.message');
    assert.deepEqual(final.content, [{ type: 'text', text: 'result: 1' }], 'the approved command ran exactly once');
    assert.equal(new Set(done.map((e) => e.id)).size, done.length, 'no event twice');
    assert.deepEqual(
      done.filter((e) => e.type === 'user.tool_confirmation').map((e) => e.type === 'user.tool_confirmation' && e.result),
      ['allow'],
    );
  } finally {
    await kill9(worker);
  }
});
