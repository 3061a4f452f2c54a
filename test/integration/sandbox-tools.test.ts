import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DockerSandbox } from '../../sandbox/docker-sandbox.ts';
import type { ToolOutcome } from '../../sandbox/types.ts';
import { createSandboxFixture, type SandboxFixture, text, toolUseId } from './sandbox-fixture.ts';

let fixture: SandboxFixture;
let sandbox: DockerSandbox;

before(async () => {
  fixture = await createSandboxFixture({ maxOutputBytes: 20_000 });
  sandbox = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('tools')));
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
});

function call(name: string, input: Record<string, unknown>, defaultTimeoutMs?: number): Promise<ToolOutcome> {
  return sandbox.runTool({ toolUseId: toolUseId(), name, input, defaultTimeoutMs });
}

async function bash(command: string, extra: Record<string, unknown> = {}): Promise<ToolOutcome> {
  return call('bash', { command, ...extra });
}

async function ok(outcome: Promise<ToolOutcome>): Promise<string> {
  const result = await outcome;
  assert.equal(result.is_error, false, text(result));
  return text(result);
}

async function fails(outcome: Promise<ToolOutcome>, pattern: RegExp): Promise<string> {
  const result = await outcome;
  assert.equal(result.is_error, true, `expected an error, got: ${text(result)}`);
  assert.match(text(result), pattern);
  return text(result);
}

describe('bash shells (one per thread of a multi-agent session)', () => {
  const inShell = (shell: string, command: string, id = toolUseId()) => sandbox.runTool({ toolUseId: id, name: 'bash', input: { command }, shell });

  test('shells run side by side, each with its own working directory', async () => {
    await ok(inShell('sthr_a', 'cd /tmp && rm -f /tmp/pipe && mkfifo /tmp/pipe'));
    // The reader blocks until the writer writes: with one shared shell the writer would wait behind it for ever.
    const reader = inShell('sthr_a', 'cat /tmp/pipe');
    await ok(inShell('sthr_b', 'sleep 0.2; echo through > /tmp/pipe'));
    assert.equal(await ok(reader), 'through\n');
    assert.equal(await ok(inShell('sthr_a', 'pwd')), '/tmp\n');
    assert.equal(await ok(inShell('sthr_b', 'pwd')), '/workspace\n');
  });

  test("cancelling one shell's command kills its processes, not another shell's", async () => {
    await ok(inShell('sthr_c', 'sleep 300 > /dev/null 2>&1 & echo $! > /tmp/c.pid'));
    const id = toolUseId();
    const running = inShell('sthr_d', 'sleep 300', id);
    await new Promise((r) => setTimeout(r, 300));
    await sandbox.cancelTool(id);
    await fails(running, /interrupted/);
    assert.equal(await ok(inShell('sthr_c', 'kill -0 "$(cat /tmp/c.pid)" && echo alive')), 'alive\n', "the other shell's background job lives");
    await ok(inShell('sthr_c', 'kill "$(cat /tmp/c.pid)"'));
  });

  test('a shell name the executor cannot take is refused', async () => {
    await assert.rejects(inShell('../etc', 'true'));
  });
});

describe('bash', () => {
  test('keeps the working directory and environment between calls', async () => {
    await ok(bash('cd /tmp && export LONGHAUL_X=42 && mkdir -p here && cd here'));
    assert.equal(await ok(bash('pwd; echo "$LONGHAUL_X"')), '/tmp/here\n42\n');
    await ok(bash('cd /workspace'));
  });

  test('combines stdout and stderr and reports a non-zero exit code as an error', async () => {
    const output = await fails(bash('echo out; echo err >&2; false'), /\[exit code 1\]$/);
    assert.match(output, /^out\nerr\n/);
    assert.equal(await ok(bash('printf no-newline')), 'no-newline');
    // The status itself comes back beside the text, for traces.
    assert.equal((await bash('exit 3')).exit_code, 3);
    assert.equal((await bash('true')).exit_code, 0);
  });

  test('syntax errors are results, not hangs', async () => {
    await fails(bash('echo "unterminated'), /unexpected EOF/);
    assert.equal(await ok(bash('echo fine')), 'fine\n');
  });

  test('a command reading stdin gets end-of-file instead of hanging', async () => {
    const started = Date.now();
    assert.equal(await ok(bash('cat; read -r line; echo "read=$?"')), 'read=1\n');
    assert.ok(Date.now() - started < 5_000);
  });

  test('a backgrounded process does not block the call', async () => {
    const started = Date.now();
    await ok(bash('sleep 30 & echo started'));
    assert.ok(Date.now() - started < 5_000);
    await ok(bash('kill %1 2>/dev/null || pkill -x sleep || true'));
  });

  test('timeout_ms kills the command and its children, then restarts the shell', async () => {
    await ok(bash('cd /tmp && export BEFORE_TIMEOUT=1'));
    const started = Date.now();
    const output = await fails(
      bash('sleep 61 & sleep 62 | cat; echo never', { timeout_ms: 500 }),
      /timed out after 500 ms/,
    );
    assert.doesNotMatch(output, /never/);
    assert.ok(Date.now() - started < 5_000);
    const ps = await ok(bash('ps -eo args'));
    assert.doesNotMatch(ps, /sleep 6[12]/);
    // The shell is new: back in /workspace, environment reset.
    assert.equal(await ok(bash('pwd; echo "[$BEFORE_TIMEOUT]"')), '/workspace\n[]\n');
  });

  test('the request default timeout applies when the input has none', async () => {
    await fails(call('bash', { command: 'sleep 20' }, 300), /timed out after 300 ms/);
  });

  test('restart gives a fresh shell', async () => {
    await ok(bash('export KEEP=1; cd /tmp'));
    assert.match(await ok(call('bash', { restart: true })), /restarted/);
    assert.equal(await ok(bash('pwd; echo "[$KEEP]"')), '/workspace\n[]\n');
  });

  test('exit ends the shell; the next call gets a new one', async () => {
    await fails(bash('exit 3'), /shell exited with code 3/);
    assert.equal(await ok(bash('echo back')), 'back\n');
  });

  test('output past the limit keeps head and tail around a marker', async () => {
    const output = await ok(bash("echo START; head -c 100000 /dev/zero | tr '\\0' a; echo; echo END"));
    assert.match(output, /^START\n/);
    assert.match(output, /END\n$/);
    assert.match(output, /\[… \d+ bytes truncated …\]/);
    assert.ok(Buffer.byteLength(output) < 21_000, `output is ${Buffer.byteLength(output)} bytes`);
  });

  test("a command can print bash's own command line (ps) without confusing the protocol", async () => {
    assert.match(await ok(bash('ps -eo args')), /executor\.py/);
  });

  test("an agent's `pkill python3` does not take the executor down", async () => {
    assert.equal(await ok(bash('python3 -c "import time; time.sleep(30)" & sleep 0.3; pkill python3; echo $?')), '0\n');
    assert.equal(await ok(bash('echo still here')), 'still here\n');
  });

  test('needs a command unless restarting', async () => {
    await fails(call('bash', {}), /`command` is required/);
  });
});

describe('read', () => {
  before(async () => {
    await ok(call('write', { file_path: 'read/five.txt', content: 'one\ntwo\nthree\nfour\nfive\n' }));
  });

  test('numbers lines like cat -n', async () => {
    assert.equal(
      await ok(call('read', { file_path: 'read/five.txt' })),
      '     1\tone\n     2\ttwo\n     3\tthree\n     4\tfour\n     5\tfive',
    );
  });

  test('view_range is 1-indexed and inclusive; end <= 0 means end of file', async () => {
    assert.equal(await ok(call('read', { file_path: 'read/five.txt', view_range: [2, 3] })), '     2\ttwo\n     3\tthree');
    assert.equal(await ok(call('read', { file_path: 'read/five.txt', view_range: [4, 0] })), '     4\tfour\n     5\tfive');
    assert.equal(await ok(call('read', { file_path: 'read/five.txt', view_range: [5, -1] })), '     5\tfive');
    await fails(call('read', { file_path: 'read/five.txt', view_range: [9, 10] }), /only 5 lines/);
    await fails(call('read', { file_path: 'read/five.txt', view_range: [0, 2] }), /view_range/);
  });

  test('relative paths resolve against /workspace whatever the shell cwd is', async () => {
    await ok(bash('cd /tmp'));
    assert.match(await ok(call('read', { file_path: 'read/five.txt' })), /one/);
    assert.match(await ok(call('read', { file_path: '/workspace/read/five.txt' })), /one/);
    await ok(bash('cd /workspace'));
  });

  test('missing files, folders and binary files are errors', async () => {
    await fails(call('read', { file_path: 'read/missing.txt' }), /not found/);
    await fails(call('read', { file_path: 'read' }), /is a directory/);
    await ok(bash("printf 'ELF\\0\\1\\2' > read/blob.bin"));
    await fails(call('read', { file_path: 'read/blob.bin' }), /binary file/);
    await fails(call('read', {}), /file_path/);
  });
});

describe('write', () => {
  test('creates parent folders and overwrites', async () => {
    assert.match(await ok(call('write', { file_path: 'w/a/b/c.txt', content: 'first' })), /Created/);
    assert.match(await ok(call('write', { file_path: 'w/a/b/c.txt', content: 'second\n' })), /Overwrote/);
    assert.equal(await ok(bash('cat w/a/b/c.txt; stat -c %U w/a/b/c.txt')), 'second\nagent\n');
  });
});

describe('edit', () => {
  before(async () => {
    await ok(call('write', { file_path: 'e/f.txt', content: 'alpha beta\nbeta gamma\n' }));
  });

  test('refuses a missing old_string', async () => {
    await fails(call('edit', { file_path: 'e/f.txt', old_string: 'delta', new_string: 'x' }), /not found/);
  });

  test('refuses a non-unique old_string, saying how many times it occurs', async () => {
    await fails(call('edit', { file_path: 'e/f.txt', old_string: 'beta', new_string: 'BETA' }), /occurs 2 times/);
    assert.equal(await ok(bash('cat e/f.txt')), 'alpha beta\nbeta gamma\n');
  });

  test('replaces a unique occurrence', async () => {
    await ok(call('edit', { file_path: 'e/f.txt', old_string: 'alpha', new_string: 'ALPHA' }));
    assert.equal(await ok(bash('cat e/f.txt')), 'ALPHA beta\nbeta gamma\n');
  });

  test('replace_all replaces every occurrence', async () => {
    assert.match(
      await ok(call('edit', { file_path: 'e/f.txt', old_string: 'beta', new_string: 'B', replace_all: true })),
      /Replaced 2 occurrences/,
    );
    assert.equal(await ok(bash('cat e/f.txt')), 'ALPHA B\nB gamma\n');
  });

  test('a missing file is an error', async () => {
    await fails(call('edit', { file_path: 'e/none.txt', old_string: 'a', new_string: 'b' }), /not found/);
  });
});

describe('glob', () => {
  before(async () => {
    await ok(
      bash(
        'mkdir -p g/src/deep/er g/docs && ' +
          'echo > g/src/old.ts && touch -d "2001-01-01" g/src/old.ts && ' +
          'echo > g/src/deep/er/newest.ts && touch -d "2030-01-01" g/src/deep/er/newest.ts && ' +
          'echo > g/src/deep/mid.ts && touch -d "2015-01-01" g/src/deep/mid.ts && ' +
          'echo > g/docs/readme.md && echo > g/.hidden.ts',
      ),
    );
  });

  test('** matches at any depth, newest first, relative to the search root', async () => {
    assert.equal(
      await ok(call('glob', { pattern: '**/*.ts', path: 'g/src' })),
      'deep/er/newest.ts\ndeep/mid.ts\nold.ts',
    );
  });

  test('* stays within one folder; patterns may carry folders and braces', async () => {
    assert.equal(await ok(call('glob', { pattern: 'g/src/*.ts' })), 'g/src/old.ts');
    assert.equal(await ok(call('glob', { pattern: 'g/{docs,src}/*.{md,ts}' })).then((t) => t.split('\n').sort().join(',')),
      'g/docs/readme.md,g/src/old.ts');
  });

  test('absolute patterns give absolute paths', async () => {
    assert.equal(await ok(call('glob', { pattern: '/workspace/g/src/deep/*.ts' })), '/workspace/g/src/deep/mid.ts');
  });

  test('no match is not an error; a missing root is', async () => {
    assert.match(await ok(call('glob', { pattern: '**/*.rs', path: 'g' })), /No files match/);
    await fails(call('glob', { pattern: '*', path: 'g/nowhere' }), /not found/);
  });
});

describe('grep', () => {
  before(async () => {
    await ok(call('write', { file_path: 'r/a.txt', content: 'needle one\nhay\nneedle two\n' }));
    await ok(call('write', { file_path: 'r/sub/b.txt', content: 'hay\nNeedle three\n' }));
  });

  test('returns path:line:text for a regex', async () => {
    assert.equal(await ok(call('grep', { pattern: 'needle \\w+', path: 'r' })), 'r/a.txt:1:needle one\nr/a.txt:3:needle two\n');
    assert.equal(await ok(call('grep', { pattern: '(?i)needle three', path: 'r' })), 'r/sub/b.txt:2:Needle three\n');
  });

  test('no match is not an error; an invalid regex and a missing path are', async () => {
    assert.match(await ok(call('grep', { pattern: 'nothing-like-this', path: 'r' })), /No matches/);
    await fails(call('grep', { pattern: '(unclosed', path: 'r' }), /regex parse error|unclosed/);
    await fails(call('grep', { pattern: 'x', path: 'r/missing' }), /not found/);
  });
});

describe('tool input', () => {
  test('an unknown tool or malformed input is a model-visible error', async () => {
    await fails(call('browse', {}), /Unknown tool 'browse'/);
    await fails(call('write', { file_path: 'x.txt' }), /`content` is required/);
    await fails(call('edit', { file_path: 'x.txt', old_string: 'a', new_string: 1 }), /`new_string`/);
  });
});
