import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sessionTrustDir } from '../../sandbox/sandbox-resources.ts';
import { prepareSessionFolder } from '../../sandbox/session-folder.ts';

test('workers preparing the same new session folder at once all get it, none removes another one\'s half-made folder', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'longhaul-session-folder-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (let round = 0; round < 50; round++) {
    const dir = join(root, `sesn_${round}`);
    await Promise.all(Array.from({ length: 4 }, () => prepareSessionFolder(dir)));
    assert.equal((await stat(dir)).mode & 0o7777, 0o700);
    assert.equal((await stat(sessionTrustDir(dir))).mode & 0o7777, 0o755);
  }
});
