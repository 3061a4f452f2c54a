import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DockerSandbox } from '../../sandbox/docker-sandbox.ts';
import { ExecutorClient } from '../../sandbox/executor-client.ts';
import { SandboxLostError } from '../../sandbox/types.ts';
import { createSandboxFixture, exec, type SandboxFixture, text, toolUseId } from './sandbox-fixture.ts';

let fixture: SandboxFixture;
let sessionId: string;
let sandbox: DockerSandbox;

before(async () => {
  fixture = await createSandboxFixture();
  sessionId = fixture.newSessionId('once');
  sandbox = await fixture.driver.ensure(fixture.spec(sessionId));
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
});

async function lines(file: string): Promise<string> {
  const outcome = await sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: `cat ${file}` } });
  return text(outcome);
}

test('the same tool_use_id sent twice runs once and answers the same', async () => {
  const id = toolUseId();
  const input = { command: 'echo ran >> once-a.txt; date +%s%N' };
  const first = await sandbox.runTool({ toolUseId: id, name: 'bash', input });
  const second = await sandbox.runTool({ toolUseId: id, name: 'bash', input });
  assert.deepEqual(second, first);
  assert.equal(await lines('once-a.txt'), 'ran\n');
});

test('a second request while the first still runs re-attaches to it', async () => {
  const id = toolUseId();
  const input = { command: 'sleep 1; echo ran >> once-b.txt; date +%s%N' };
  const other = new ExecutorClient({ socketPath: join(fixture.driver.sessionDir(sessionId), 'exec.sock') });
  try {
    const first = sandbox.runTool({ toolUseId: id, name: 'bash', input });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // A different connection, as from another activity attempt.
    const second = other.run({ toolUseId: id, name: 'bash', input });
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual(b, a);
  } finally {
    other.close();
  }
  assert.equal(await lines('once-b.txt'), 'ran\n');
});

test('a new driver (a new worker process) re-attaches to a running call and reuses the container', async () => {
  const id = toolUseId();
  const input = { command: 'sleep 1; echo ran >> once-c.txt; echo done' };
  const first = sandbox.runTool({ toolUseId: id, name: 'bash', input });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const worker2 = fixture.newDriver();
  const again = await worker2.ensure(fixture.spec(sessionId));
  assert.equal(again.containerId, sandbox.containerId);
  const [a, b] = await Promise.all([first, again.runTool({ toolUseId: id, name: 'bash', input })]);
  assert.deepEqual(b, a);
  // Finished: a third attempt gets the journaled result without running anything.
  assert.deepEqual(await again.runTool({ toolUseId: id, name: 'bash', input }), a);
  assert.equal(await lines('once-c.txt'), 'ran\n');
});

test('a call cut off by a lost container is answered "interrupted" afterwards, never re-run', async () => {
  const id = toolUseId();
  const input = { command: 'echo started >> once-d.txt; sleep 30; echo finished >> once-d.txt' };
  // Settled into a value at once, so the rejection is handled before the test looks at it.
  const running = sandbox.runTool({ toolUseId: id, name: 'bash', input }).catch((e: unknown) => e);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await exec('docker', ['kill', sandbox.containerId]);
  assert.ok((await running) instanceof SandboxLostError);

  sandbox = await fixture.driver.ensure(fixture.spec(sessionId));
  const retried = await sandbox.runTool({ toolUseId: id, name: 'bash', input });
  assert.equal(retried.is_error, true);
  assert.match(text(retried), /interrupted: the sandbox executor restarted/);
  assert.equal(await lines('once-d.txt'), 'started\n');
  // And it stays that way.
  assert.deepEqual(await sandbox.runTool({ toolUseId: id, name: 'bash', input }), retried);
});

test('ids that are not plain tokens are journaled too', async () => {
  const id = `weird/id with spaces ${toolUseId()}`;
  const input = { command: 'echo ran >> once-e.txt' };
  await sandbox.runTool({ toolUseId: id, name: 'bash', input });
  await sandbox.runTool({ toolUseId: id, name: 'bash', input });
  assert.equal(await lines('once-e.txt'), 'ran\n');
});
