import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cachedWorkflowBundle } from '../../src/worker/workflow-bundle-cache.ts';

const workflowsIndex = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

test('the workflow bundle is built by a child process, reused while its inputs are unchanged, rebuilt when one changes or the file is damaged', async (t) => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'longhaul-bundle-cache-'));
  t.after(() => rm(cacheDir, { recursive: true, force: true }));
  const codeFile = join(cacheDir, 'workflow-bundle.js');
  const manifestFile = join(cacheDir, 'workflow-bundle.json');

  const built = await cachedWorkflowBundle({ cacheDir });
  assert.match(built.code, /sessionWorkflow/);
  // One character past ASCII (the SDK's comments have some) would make V8 hold every copy at two bytes per character.
  assert.match(built.code, /^[\x00-\x7f]*$/, 'the bundle is ASCII only');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { inputs: Record<string, string> };
  assert.ok(manifest.inputs[workflowsIndex], 'the workflow sources are among the recorded inputs');
  // Importing @temporalio/worker loads webpack's lazy index; bundling would load its compiler.
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  assert.ok(!loaded.some((file) => file.endsWith('/node_modules/webpack/lib/Compiler.js')), 'webpack ran in the child, never in this process');

  // Unchanged inputs: the same files are read back, nothing is written.
  const firstCode = await stat(codeFile);
  const again = await cachedWorkflowBundle({ cacheDir });
  assert.equal(again.code, built.code);
  assert.equal((await stat(codeFile)).ino, firstCode.ino, 'the cached bundle was reused');

  // An input that no longer matches what was bundled (as after an edit): built again.
  await writeFile(manifestFile, JSON.stringify({ ...manifest, inputs: { ...manifest.inputs, [workflowsIndex]: 'an older version' } }));
  const rebuilt = await cachedWorkflowBundle({ cacheDir });
  assert.equal(rebuilt.code, built.code);
  assert.notEqual((await stat(codeFile)).ino, firstCode.ino, 'the bundle was built again');

  // A damaged code file is never loaded.
  await writeFile(codeFile, 'half a bundle');
  assert.equal((await cachedWorkflowBundle({ cacheDir })).code, built.code);
});

test('a failed bundling rejects with what the child process said', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'longhaul-bundle-cache-'));
  t.after(() => rm(parent, { recursive: true, force: true }));
  // A file where the cache folder should be: the child cannot write there.
  const cacheDir = join(parent, 'not-a-folder');
  await writeFile(cacheDir, '');
  await assert.rejects(cachedWorkflowBundle({ cacheDir }), /bundling the workflows failed:[\s\S]*not-a-folder/);
});
