import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { MALLOC_SETTINGS, memoryRelaunch, NODE_FLAGS } from '../../src/config/memory-settings.ts';

const argvOf = (command: string) => ['/usr/bin/node', '/opt/longhaul/bin/longhaul.js', command, '--port', '4001'];
const argv = argvOf('dev');

test('longhaul dev relaunches once with its V8 flags before the script, and its malloc settings where the user set none', () => {
  const relaunch = memoryRelaunch({ execPath: '/usr/bin/node', execArgv: ['--enable-source-maps'], argv, env: { HOME: '/home/a' } });
  assert.deepEqual(relaunch?.args, ['/usr/bin/node', ...NODE_FLAGS, '--enable-source-maps', ...argv.slice(1)]);
  assert.deepEqual(relaunch?.env, { HOME: '/home/a', MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '32768', MALLOC_TRIM_THRESHOLD_: '131072' });

  const own = memoryRelaunch({ execPath: '/usr/bin/node', execArgv: [], argv, env: { MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '4194304' } });
  assert.equal(own?.env['MALLOC_ARENA_MAX'], '8');
  assert.equal(own?.env['MALLOC_MMAP_THRESHOLD_'], '4194304');
  assert.equal(own?.env['MALLOC_TRIM_THRESHOLD_'], '131072');

  // The relaunched process has the flags: no second relaunch.
  assert.equal(memoryRelaunch({ execPath: '/usr/bin/node', execArgv: [...NODE_FLAGS], argv, env: {} }), undefined);
});

test('a young-generation size of the user’s own, on the command line or in NODE_OPTIONS, is left alone', () => {
  assert.equal(memoryRelaunch({ execPath: 'node', execArgv: ['--max-semi-space-size=64'], argv, env: {} }), undefined);
  assert.equal(memoryRelaunch({ execPath: 'node', execArgv: [], argv, env: { NODE_OPTIONS: '--inspect --max_semi_space_size=4' } }), undefined);
});

test('longhaul worker and serve relaunch once with the malloc settings only; short commands never relaunch', () => {
  for (const command of ['worker', 'serve']) {
    const relaunch = memoryRelaunch({ execPath: '/usr/bin/node', execArgv: ['--enable-source-maps'], argv: argvOf(command), env: { HOME: '/home/a', MALLOC_ARENA_MAX: '4' } });
    assert.deepEqual(relaunch?.args, ['/usr/bin/node', '--enable-source-maps', ...argvOf(command).slice(1)], command);
    assert.deepEqual(relaunch?.env, { ...MALLOC_SETTINGS, HOME: '/home/a', MALLOC_ARENA_MAX: '4' }, command);
    // Relaunched, it has every setting: no second relaunch.
    assert.equal(memoryRelaunch({ execPath: '/usr/bin/node', execArgv: [], argv: argvOf(command), env: relaunch!.env }), undefined, command);
  }
  for (const command of ['sessions', 'setup', 'run']) assert.equal(memoryRelaunch({ execPath: 'node', execArgv: [], argv: argvOf(command), env: {} }), undefined, command);
  assert.equal(memoryRelaunch({ execPath: 'node', execArgv: [], argv: ['node', 'longhaul.js'], env: {} }), undefined);
});

test('the flags are ones this Node accepts', () => {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
  assert.equal(out, 'ok');
});
