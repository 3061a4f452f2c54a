import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { MemoryManifest, Sandbox } from '../../sandbox/types.ts';
import { createSandboxFixture, type SandboxFixture } from './sandbox-fixture.ts';

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

let fixture: SandboxFixture;
let sandbox: Sandbox;
let calls = 0;

/** Runs bash in the sandbox as the agent would; returns its output. */
async function bash(command: string): Promise<string> {
  const outcome = await sandbox.runTool({ toolUseId: `toolu_mem_${calls++}`, name: 'bash', input: { command } });
  return outcome.content.map((b) => b.text).join('').trim();
}

before(async () => {
  fixture = await createSandboxFixture();
  const sessionId = fixture.newSessionId('memory');
  sandbox = await fixture.driver.ensure(
    fixture.spec(sessionId, {
      memory: [
        { slug: 'notes', readOnly: false },
        { slug: 'ref', readOnly: true },
      ],
    }),
  );
});

after(async () => {
  await fixture[Symbol.asyncDispose]();
});

test('applied memories are files the agent reads; a read-only store refuses writes inside the container; the sync folder is root\'s', async () => {
  const { skipped } = await sandbox.applyMemory({
    writes: [
      { store: 'notes', path: '/a.md', content: 'alpha', expectSha256: null },
      { store: 'notes', path: '/deep/er/b.md', content: 'béta\n', expectSha256: null },
      { store: 'ref', path: '/style.md', content: 'tabs', expectSha256: null },
    ],
    deletes: [],
  });
  assert.deepEqual(skipped, []);
  assert.equal(await bash('cat /mnt/memory/notes/a.md; echo; cat /mnt/memory/notes/deep/er/b.md; cat /mnt/memory/ref/style.md'), 'alpha\nbéta\ntabs');
  assert.equal(await bash('stat -c %U /mnt/memory/notes/deep/er/b.md /mnt/memory/ref/style.md | tr "\\n" " "'), 'agent root', "a read-write store's files are the agent's; a read-only store's are root's");
  assert.match(await bash('echo x > /mnt/memory/ref/style.md; echo "exit=$?"'), /Read-only file system[\s\S]*exit=1/);
  assert.match(await bash('touch /mnt/memory/ref/new.md; echo "exit=$?"'), /Read-only file system[\s\S]*exit=1/);
  assert.match(await bash('ls /run/longhaul-memory; echo "exit=$?"'), /Permission denied[\s\S]*exit=2/);
  assert.match(await bash('touch /run/longhaul-memory/notes/x.md; echo "exit=$?"'), /Permission denied[\s\S]*exit=1/);
  const known = { notes: { '/a.md': sha256('alpha'), '/deep/er/b.md': sha256('béta\n') }, ref: { '/style.md': sha256('tabs') } };
  assert.deepEqual(await sandbox.scanMemory(known), { changed: [], deleted: [], rejected: [], truncated: false }, 'nothing changed since the sync');
});

test('a scan reports exactly what the agent changed, and what cannot be a memory; a planted link is never followed', async () => {
  await sandbox.applyMemory({ writes: [{ store: 'notes', path: '/keep.md', content: 'same', expectSha256: null }, { store: 'notes', path: '/gone.md', content: 'bye', expectSha256: null }], deletes: [] });
  const known = {
    notes: { '/a.md': sha256('alpha'), '/deep/er/b.md': sha256('béta\n'), '/keep.md': sha256('same'), '/gone.md': sha256('bye'), '/edit.md': sha256('before') },
    ref: { '/style.md': sha256('tabs') },
  };
  await bash(
    [
      'cd /mnt/memory/notes',
      "printf 'after' > edit.md",
      'rm gone.md',
      'mkdir -p new/dir && printf "fresh" > new/dir/n.md',
      'head -c 102401 /dev/zero | tr "\\0" a > big.md',
      "printf '\\xff\\xfe' > binary.md",
      'mkfifo pipe.md',
      'ln -s /etc evil',
      'ln -s /run/longhaul-memory/ref sneaky',
      'ln -s /etc/passwd passwd.md',
    ].join(' && '),
  );
  const scan = await sandbox.scanMemory(known);
  assert.deepEqual(
    scan.changed.map(({ store, path, sha256: sha, content }) => ({ store, path, sha, content })),
    [
      { store: 'notes', path: '/edit.md', sha: sha256('after'), content: 'after' },
      { store: 'notes', path: '/new/dir/n.md', sha: sha256('fresh'), content: 'fresh' },
    ],
  );
  assert.deepEqual(scan.deleted, [{ store: 'notes', path: '/gone.md' }]);
  assert.deepEqual(
    [...scan.rejected].sort((a, b) => a.path.localeCompare(b.path)),
    [
      { store: 'notes', path: '/big.md', reason: 'too_large' },
      { store: 'notes', path: '/binary.md', reason: 'not_utf8' },
      { store: 'notes', path: '/evil', reason: 'not_regular' },
      { store: 'notes', path: '/passwd.md', reason: 'not_regular' },
      { store: 'notes', path: '/pipe.md', reason: 'not_regular' },
      { store: 'notes', path: '/sneaky', reason: 'not_regular' },
    ],
  );
  assert.equal(scan.truncated, false);

  // A write through a planted link is left alone, and nothing lands where the link points.
  const { skipped } = await sandbox.applyMemory({
    writes: [
      { store: 'notes', path: '/evil/owned.md', content: 'x', expectSha256: null },
      { store: 'notes', path: '/sneaky/owned.md', content: 'x', expectSha256: null },
      { store: 'notes', path: '/passwd.md', content: 'x', expectSha256: null },
    ],
    deletes: [{ store: 'notes', path: '/passwd.md', expectSha256: sha256('x') }],
  });
  assert.equal(skipped.length, 4);
  assert.equal(await bash('ls /etc/owned.md 2>&1; cat /mnt/memory/ref/owned.md 2>&1; head -c 4 /etc/passwd'), 'ls: cannot access \'/etc/owned.md\': No such file or directory\ncat: /mnt/memory/ref/owned.md: No such file or directory\nroot');
});

test('a write or delete over a file the agent changed since the last sync is left alone; deletes prune empty folders', async () => {
  await sandbox.applyMemory({ writes: [{ store: 'notes', path: '/race/r.md', content: 'v1', expectSha256: null }], deletes: [] });
  await bash("printf 'agent' > /mnt/memory/notes/race/r.md");
  const stale = await sandbox.applyMemory({ writes: [{ store: 'notes', path: '/race/r.md', content: 'store', expectSha256: sha256('v1') }], deletes: [] });
  assert.deepEqual(stale.skipped, [{ store: 'notes', path: '/race/r.md' }]);
  assert.equal(await bash('cat /mnt/memory/notes/race/r.md'), 'agent');
  const refused = await sandbox.applyMemory({ writes: [], deletes: [{ store: 'notes', path: '/race/r.md', expectSha256: sha256('v1') }] });
  assert.equal(refused.skipped.length, 1);
  const done = await sandbox.applyMemory({ writes: [], deletes: [{ store: 'notes', path: '/race/r.md', expectSha256: sha256('agent') }] });
  assert.deepEqual(done.skipped, []);
  assert.equal(await bash('ls /mnt/memory/notes/race 2>&1 | head -1'), "ls: cannot access '/mnt/memory/notes/race': No such file or directory");
});

test('a thousand memories: applied and scanned in one request each; a scan past its reply limit is truncated and the rescan finishes', async () => {
  const writes = Array.from({ length: 1000 }, (_, i) => ({ store: 'notes', path: `/bulk/t${i % 20}/m${i}.md`, content: `memory ${i} ${'x'.repeat(300)}`, expectSha256: null }));
  let started = performance.now();
  const applied = await sandbox.applyMemory({ writes, deletes: [] });
  console.log(`apply 1000: ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(applied.skipped, []);
  const known: Record<string, Record<string, string>> = { notes: {}, ref: { '/style.md': sha256('tabs') } };
  started = performance.now();
  const fresh = await sandbox.scanMemory(known);
  console.log(`scan 1000+ unknown: ${Math.round(performance.now() - started)} ms`);
  assert.equal(fresh.changed.filter((c) => c.path.startsWith('/bulk/')).length, 1000);
  for (const c of fresh.changed) known['notes']![c.path] = c.sha256;
  started = performance.now();
  const again = await sandbox.scanMemory(known);
  console.log(`scan 1000+ unchanged (files younger than 50 ms are hashed again): ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(again.changed, []);
  started = performance.now();
  const steady = await sandbox.scanMemory(known);
  console.log(`scan 1000+ unchanged, again: ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(steady.changed, []);

  // 60 files of 100 kB are more than one reply holds.
  await bash('cd /mnt/memory/notes && mkdir -p wide && for i in $(seq 60); do head -c 100000 /dev/zero | tr "\\0" w > wide/$i.md; done');
  const first = await sandbox.scanMemory(known);
  assert.equal(first.truncated, true);
  assert.ok(first.changed.length > 0 && first.changed.length < 60);
  for (const c of first.changed) known['notes']![c.path] = c.sha256;
  const second = await sandbox.scanMemory(known);
  assert.equal(second.truncated, false);
  assert.equal(first.changed.length + second.changed.length, 60);
});

test('a write already in place counts as applied, so a retried apply is not reported as the agent\'s change', async () => {
  const write = { store: 'notes', path: '/retry.md', content: 'once', expectSha256: null };
  assert.deepEqual((await sandbox.applyMemory({ writes: [write], deletes: [] })).skipped, []);
  assert.deepEqual((await sandbox.applyMemory({ writes: [write], deletes: [] })).skipped, []);
  await bash('rm /mnt/memory/notes/retry.md');
});

/** Scans until nothing is left, as the worker does: the manifest of everything in the sandbox now, and how many scans it took. */
async function syncAll(known: MemoryManifest = { notes: {}, ref: {} }): Promise<{ known: MemoryManifest; rounds: number }> {
  for (let rounds = 1; ; rounds++) {
    assert.ok(rounds <= 30, 'the rescans finish');
    const scan = await sandbox.scanMemory(known);
    for (const c of scan.changed) (known[c.store] ??= {})[c.path] = c.sha256;
    for (const d of scan.deleted) delete known[d.store]?.[d.path];
    if (!scan.truncated) return { known, rounds };
  }
}

test('a folder the agent locks (chmod 000) hides its files but does not delete them', async () => {
  await sandbox.applyMemory({ writes: [{ store: 'notes', path: '/locked/a.md', content: 'a', expectSha256: null }], deletes: [] });
  const { known } = await syncAll();
  assert.equal(known['notes']!['/locked/a.md'], sha256('a'));
  await bash('chmod 000 /mnt/memory/notes/locked');
  assert.deepEqual((await sandbox.scanMemory(known)).deleted, []);
  await bash('chmod 755 /mnt/memory/notes/locked');
  assert.deepEqual((await sandbox.scanMemory(known)).deleted, []);
  await bash('rm -rf /mnt/memory/notes/locked');
  assert.deepEqual((await sandbox.scanMemory(known)).deleted, [{ store: 'notes', path: '/locked/a.md' }]);
});

test('replies stay far below the client\'s line limit whatever the agent writes: escaped content and floods of rejects', async () => {
  const { known } = await syncAll();
  // Control characters are valid UTF-8 and six bytes each in JSON: 45 x 100 kB escapes to 27 MB.
  await bash('cd /mnt/memory/notes && mkdir ctl && for i in $(seq 45); do head -c 100000 /dev/zero | tr "\\0" "\\1" > ctl/$i.md; done');
  const before = Object.keys(known['notes']!).length;
  const { rounds } = await syncAll(known);
  assert.equal(Object.keys(known['notes']!).length - before, 45);
  assert.ok(rounds > 1, `took ${rounds} scans`);
  await bash('rm -rf /mnt/memory/notes/ctl');

  // 3,000 links with 240-byte names that are not UTF-8: each shown with 240 replacement characters.
  await bash(`python3 -c "import os; os.mkdir(b'/mnt/memory/notes/flood'); [os.symlink(b'/etc', b'/mnt/memory/notes/flood/%d' % i + b'\\xff' * 240) for i in range(3000)]"`);
  const flood = await sandbox.scanMemory(known);
  assert.equal(flood.truncated, false);
  assert.ok(flood.rejected.length > 0 && flood.rejected.length < 3000, `${flood.rejected.length} rejected`);
  assert.ok(JSON.stringify(flood).length < 1024 * 1024);
  await bash('rm -rf /mnt/memory/notes/flood');
});
