import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { IdleCollector } from '../../src/cli/idle-garbage-collection.ts';

const MIB = 1024 * 1024;

/** A process whose heap (the pages it holds) and loop the test sets; `collect` brings the heap down to `live`. */
function fakeProcess() {
  const state = { held: 100 * MIB, live: 100 * MIB, utilization: 0, collections: 0 };
  const probes = {
    heapBytes: () => state.held,
    loopUtilization: () => state.utilization,
    collect: () => {
      state.collections += 1;
      state.held = state.live;
    },
  };
  return { state, probes };
}

test('collects once the loop is quiet and the heap grew by the threshold since the last collection, not while busy or before', () => {
  const { state, probes } = fakeProcess();
  const collector = new IdleCollector(probes, { quietBelow: 0.05, minGrowthBytes: 32 * MIB });

  state.utilization = 0.6;
  assert.equal(collector.tick(), false, 'busy: no collection');
  state.utilization = 0.01;
  assert.equal(collector.tick(), true, 'quiet: collects what start-up left');
  state.held = 300 * MIB;
  state.utilization = 0.6;
  assert.equal(collector.tick(), false, 'busy: no collection');
  state.utilization = 0.01;
  assert.equal(collector.tick(), true, 'quiet and grown: collects');
  assert.equal(state.held, 100 * MIB);
  assert.equal(collector.tick(), false, 'nothing new since: no collection');

  state.held = 120 * MIB;
  assert.equal(collector.tick(), false, 'grown less than the threshold');
  state.held = 140 * MIB;
  assert.equal(collector.tick(), true);
  assert.equal(state.collections, 3);
});

test('growth counts from where V8 left the heap when it gave pages back on its own', () => {
  const { state, probes } = fakeProcess();
  const collector = new IdleCollector(probes, { quietBelow: 0.05, minGrowthBytes: 32 * MIB });
  assert.equal(collector.tick(), true, 'the first quiet look collects what start-up left');
  state.live = 60 * MIB;
  state.held = 60 * MIB; // V8 gave pages back on its own
  assert.equal(collector.tick(), false);
  state.held = 85 * MIB;
  assert.equal(collector.tick(), false, '25 MiB over the new low, below the threshold');
  state.held = 95 * MIB;
  assert.equal(collector.tick(), true);
});

test('collectGarbageWhenIdle frees a quiet process’s garbage without --expose-gc', () => {
  // In a child process: the real collector, on a heap that held about 170 MiB of garbage.
  const script = `
    const { collectGarbageWhenIdle } = await import(${JSON.stringify(new URL('../../src/cli/idle-garbage-collection.ts', import.meta.url).href)});
    const { getHeapStatistics } = await import('node:v8');
    // Small objects, as an engine's garbage is: they fill whole pages of the old space.
    let keep = [];
    for (let i = 0; i < 2_000_000; i++) keep.push({ i, text: 'x' + i });
    keep = undefined;
    const before = getHeapStatistics().used_heap_size;
    const pagesBefore = getHeapStatistics().total_physical_size;
    collectGarbageWhenIdle({ everyMs: 300 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { runInNewContext } = await import('node:vm');
    const { used_heap_size: after, total_physical_size: pagesAfter } = getHeapStatistics();
    console.log(JSON.stringify({ before, after, pagesBefore, pagesAfter, exposed: typeof globalThis.gc, inLaterContext: runInNewContext('typeof gc') }));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr);
  const { before, after, pagesBefore, pagesAfter, exposed, inLaterContext } = JSON.parse(child.stdout.trim()) as { before: number; after: number; pagesBefore: number; pagesAfter: number; exposed: string; inLaterContext: string };
  assert.ok(before > 150 * MIB, `the garbage was on the heap (${Math.round(before / MIB)} MiB)`);
  assert.ok(after < 50 * MIB, `collected: ${Math.round(after / MIB)} MiB left`);
  // The heap's pages went back to the operating system too, not only the objects.
  assert.ok(pagesAfter < 50 * MIB, `the heap's resident pages ${Math.round(pagesBefore / MIB)} → ${Math.round(pagesAfter / MIB)} MiB`);
  assert.equal(exposed, 'undefined', 'the global gc stays unexposed');
  assert.equal(inLaterContext, 'undefined', 'a context made later has no gc either');
});
