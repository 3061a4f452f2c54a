import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HostCommandError, HostCommands } from '../../sandbox/host-commands.ts';
import { eventually } from '../support/eventually.ts';

test('a host command gets its words verbatim; failures carry their status and stderr; a missing command is 127', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'host-commands-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const commands = new HostCommands();
  const word = `it's "$HOME" \`id\` ; $(touch ${dir}/pwned) * \\ end`;
  await commands.run('sh', ['-c', 'printf %s "$1" > "$2"', 'write', word, join(dir, 'out')]);
  assert.equal(await readFile(join(dir, 'out'), 'utf8'), word);
  await assert.rejects(readFile(join(dir, 'pwned')), { code: 'ENOENT' }, 'nothing in a word ran');

  await assert.rejects(commands.run('sh', ['-c', 'echo disk is full >&2; exit 3']), (error) => error instanceof HostCommandError && error.status === 3 && error.stderr === 'disk is full');
  await assert.rejects(commands.run('no-such-command-longhaul', []), (error) => error instanceof HostCommandError && error.status === 127);
  await assert.rejects(commands.run('echo', ['two\nlines']), /line breaks/);
});

test('host commands run side by side, and one past its time limit is ended with status 124', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'host-commands-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const commands = new HostCommands({ timeoutSeconds: 1 });
  // The second waits for a file only the first writes after it started: run one at a time, this would time out.
  const marker = join(dir, 'first-started');
  const first = commands.run('sh', ['-c', 'until [ -e "$1.second" ]; do sleep 0.05; done; touch "$1"', 'first', marker]);
  const second = commands.run('sh', ['-c', 'touch "$1.second"; until [ -e "$1" ]; do sleep 0.05; done', 'second', marker]);
  await Promise.all([first, second]);
  await assert.rejects(commands.run('sleep', ['30']), (error) => error instanceof HostCommandError && error.status === 124);
});

test('a process that ran host commands leaves no folder behind when it exits', async (t) => {
  // Its own temporary folder (TMPDIR), so what other processes make does not count.
  const tmp = await mkdtemp(join(tmpdir(), 'host-commands-exit-'));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  const module = new URL('../../sandbox/host-commands.ts', import.meta.url).href;
  const program = `const { HostCommands } = await import(${JSON.stringify(module)}); await new HostCommands().run('true', []);`;
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', program], { env: { ...process.env, TMPDIR: tmp } });
  // The shell outlives the process by a moment: it ends when its input does.
  await eventually('the command folder removed', async () => (await readdir(tmp)).length === 0, { timeoutMs: 10_000, everyMs: 50 });
});
