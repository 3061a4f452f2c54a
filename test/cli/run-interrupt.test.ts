/**
 * `longhaul run --url --api-key` against an API over a real harness, with a script
 * whose tool call runs long: Ctrl-C interrupts the agent and the run still ends
 * with a summary; a second Ctrl-C stops watching at once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { reply, text, toolUse } from '../../src/testing/index.ts';
import { API_KEY, startApiFixture } from '../api/api-fixture.ts';
import { startTestTemporal } from '../support/harness.ts';

const cli = fileURLToPath(new URL('../../bin/longhaul.js', import.meta.url));

let temporal: DevServer;
let emptyDataDir: string;
before(async () => {
  temporal = await startTestTemporal();
  emptyDataDir = mkdtempSync(join(tmpdir(), 'longhaul-cli-'));
});
after(async () => {
  await temporal.stop();
  rmSync(emptyDataDir, { recursive: true, force: true });
});

/** Starts `longhaul run`, and resolves `waitFor(text)` once stdout shows `text`. */
function startRun(url: string, task: string) {
  const env = { ...process.env };
  for (const name of ['ANTHROPIC_API_KEY', 'LONGHAUL_API_KEY', 'LONGHAUL_URL']) delete env[name];
  const child = spawn(process.execPath, [cli, 'run', '--data-dir', emptyDataDir, '--url', url, '--api-key', API_KEY, task], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (needle: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!stdout.includes(needle)) {
      if (child.exitCode !== null) assert.fail(`run exited (${child.exitCode}) before printing ${needle}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      if (Date.now() > deadline) assert.fail(`no ${needle} after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, exited, waitFor, output: () => ({ stdout, stderr }) };
}

const slowScript = (request: { messages: unknown[] }, { callIndex }: { callIndex: number }) =>
  callIndex === 0 ? reply(text('Let me wait a while.'), toolUse('bash', { command: 'sleep 120' })) : reply(`Stopped as asked (call ${callIndex}, ${request.messages.length} messages).`);

test('Ctrl-C interrupts the agent; the run ends with a summary', { timeout: 120_000 }, async () => {
  await using api = await startApiFixture({ temporal, script: slowScript });
  const run = startRun(api.api.url, 'wait for a long time');
  await run.waitFor('▸ bash $ sleep 120');
  // The tool is running now (its result has not come).
  run.child.kill('SIGINT');
  const code = await run.exited;
  const { stdout, stderr } = run.output();
  assert.match(stderr, /interrupting the agent/);
  assert.match(stdout.split('\n')[0]!, /^model: claude-sonnet-5-5 \(as the server at the given URL provides it\)$/, 'a server without the model header is not called Claude or scripted');
  assert.match(stdout, /› interrupt sent/);
  assert.match(stdout, /stop reason: \w+/);
  assert.match(stdout, /1 tool call/);
  assert.ok(code === 0 || code === 1, `exit code ${code}`);
});

test('a second Ctrl-C stops watching at once, with exit code 130', { timeout: 120_000 }, async () => {
  await using api = await startApiFixture({ temporal, script: slowScript });
  const run = startRun(api.api.url, 'wait for a long time');
  await run.waitFor('▸ bash $ sleep 120');
  run.child.kill('SIGINT');
  // Signals do not queue: two sent back to back can arrive as one. Send the second once the first is seen.
  while (!run.output().stderr.includes('interrupting the agent')) await new Promise((r) => setTimeout(r, 5));
  run.child.kill('SIGINT');
  const code = await run.exited;
  assert.equal(code, 130, JSON.stringify(run.output()));
});
