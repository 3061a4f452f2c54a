import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/harness.ts';

const dir = new URL('../fixtures/histories/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('recorded histories exist', () => {
  assert.ok(files.length >= 3, `found ${files.length} recorded histories`);
});

// Each history was recorded from a real session by test/fixtures/record-histories.ts.
// A workflow change that would make a running session fail on replay (a
// non-deterministic change) fails here.
for (const file of files) {
  test(`replays ${file}`, async () => {
    const history = JSON.parse(readFileSync(new URL(file, dir), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `replay-${file}`);
  });
}
