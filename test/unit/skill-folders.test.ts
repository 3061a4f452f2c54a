import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { installSkillFolders, SkillContentMismatchError, type SkillFolders } from '../../sandbox/skill-folders.ts';
import type { SkillInstallFile } from '../../sandbox/types.ts';

let base: string;
let folders: SkillFolders;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'longhaul-skill-folders-'));
  folders = { root: join(base, 'skills'), staging: join(base, 'skills-staging') };
  await mkdir(folders.root);
  await mkdir(folders.staging);
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

const file = (path: string, content: string, sizeBytes = Buffer.byteLength(content)): SkillInstallFile => ({
  path,
  sizeBytes,
  content: async function* () {
    yield Buffer.from(content);
  },
});

const mode = async (path: string) => (await lstat(path)).mode & 0o777;

test('a skill is written whole under its folder: 0755 folders, 0644 files, 0755 for a #! script; nothing is left in staging', async () => {
  const settled = await installSkillFolders(folders, [{ folder: 'tool', files: async () => [file('SKILL.md', '---\ndescription: d\n---\n'), file('scripts/run.sh', '#!/bin/sh\necho hi\n')] }]);
  assert.deepEqual(settled, ['tool']);
  assert.equal(await readFile(join(folders.root, 'tool', 'scripts', 'run.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
  assert.deepEqual(
    await Promise.all(['tool', 'tool/SKILL.md', 'tool/scripts', 'tool/scripts/run.sh'].map((path) => mode(join(folders.root, path)))),
    [0o755, 0o644, 0o755, 0o755],
  );
  assert.deepEqual(await readdir(folders.staging), []);
});

test('a folder in place is kept as it is, its files never asked for; a version that is gone is left out', async () => {
  let asked = 0;
  const settled = await installSkillFolders(folders, [
    { folder: 'tool', files: async () => (asked++, [file('SKILL.md', 'other')]) },
    { folder: 'gone', files: async () => undefined },
  ]);
  assert.deepEqual(settled, ['tool', 'gone']);
  assert.equal(asked, 0);
  assert.match(await readFile(join(folders.root, 'tool', 'SKILL.md'), 'utf8'), /^---/);
  await assert.rejects(lstat(join(folders.root, 'gone')), { code: 'ENOENT' });
});

test('bytes that are not the recorded size, or a path that is not clean, leave no folder at all', async () => {
  await assert.rejects(installSkillFolders(folders, [{ folder: 'short', files: async () => [file('SKILL.md', 'ok'), file('data', 'abc', 10)] }]), SkillContentMismatchError);
  await assert.rejects(installSkillFolders(folders, [{ folder: 'long', files: async () => [file('data', 'abcdef', 3)] }]), SkillContentMismatchError);
  for (const path of ['../escape', '/etc/passwd', 'a//b', 'a/./b']) {
    await assert.rejects(installSkillFolders(folders, [{ folder: 'bad', files: async () => [file(path, 'x')] }]), /not a clean relative path/, path);
  }
  await assert.rejects(installSkillFolders(folders, [{ folder: '../up', files: async () => [] }]), /not a name of lowercase letters/);
  assert.deepEqual((await readdir(folders.root)).sort(), ['tool']);
  assert.deepEqual(await readdir(folders.staging), []);
  await assert.rejects(lstat(join(base, 'escape')), { code: 'ENOENT' });
});
