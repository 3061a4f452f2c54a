import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { startDevServer } from '../../src/temporal/dev-server.ts';
import { freePort } from '../../src/net/free-port.ts';

test('a dev server that cannot start says why, from its log, after retrying with fresh ports', async () => {
  const dir = mkdtempSync('/tmp/longhaul-dev-server-');
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const uiPort = (taken.address() as { port: number }).port;
  const logFile = `${dir}/temporal.log`;
  try {
    await assert.rejects(startDevServer({ port: await freePort(), uiPort, logFile }), (error: Error) => {
      assert.match(error.message, /^temporal server start-dev exited with code 1: .*can't set UI port \d+: .*address already in use; see /);
      return true;
    });
    const attempts = readFileSync(logFile, 'utf8').match(/can't set UI port/g) ?? [];
    assert.equal(attempts.length, 3, 'an early exit is retried twice before it is reported');
    // Without a log file, from what it said.
    await assert.rejects(startDevServer({ port: await freePort(), uiPort }), (error: Error) => {
      assert.match(error.message, /^temporal server start-dev exited with code 1: .*can't set UI port \d+: .*address already in use$/);
      return true;
    });
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
