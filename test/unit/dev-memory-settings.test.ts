import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { DEV_NODE_FLAGS, devMemoryRelaunch } from '../../src/config/dev-memory-settings.ts';

const argv = ['/usr/bin/node', '/opt/longhaul/bin/longhaul.js', 'dev', '--port', '4001'];

test('longhaul dev relaunches once with its V8 flags before the script, and its malloc settings where the user set none', () => {
  const relaunch = devMemoryRelaunch({ execPath: '/usr/bin/node', execArgv: ['--enable-source-maps'], argv, env: { HOME: '/home/a' } });
  assert.deepEqual(relaunch?.args, ['/usr/bin/node', ...DEV_NODE_FLAGS, '--enable-source-maps', ...argv.slice(1)]);
  assert.deepEqual(relaunch?.env, { HOME: '/home/a', MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '32768', MALLOC_TRIM_THRESHOLD_: '131072' });

  const own = devMemoryRelaunch({ execPath: '/usr/bin/node', execArgv: [], argv, env: { MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '4194304' } });
  assert.equal(own?.env['MALLOC_ARENA_MAX'], '8');
  assert.equal(own?.env['MALLOC_MMAP_THRESHOLD_'], '4194304');
  assert.equal(own?.env['MALLOC_TRIM_THRESHOLD_'], '131072');

  // The relaunched process has the flags: no second relaunch.
  assert.equal(devMemoryRelaunch({ execPath: '/usr/bin/node', execArgv: [...DEV_NODE_FLAGS], argv, env: {} }), undefined);
});

test('a young-generation size of the user’s own, on the command line or in NODE_OPTIONS, is left alone', () => {
  assert.equal(devMemoryRelaunch({ execPath: 'node', execArgv: ['--max-semi-space-size=64'], argv, env: {} }), undefined);
  assert.equal(devMemoryRelaunch({ execPath: 'node', execArgv: [], argv, env: { NODE_OPTIONS: '--inspect --max_semi_space_size=4' } }), undefined);
});

test('the flags are ones this Node accepts', () => {
  const out = execFileSync(process.execPath, [...DEV_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
  assert.equal(out, 'ok');
});
