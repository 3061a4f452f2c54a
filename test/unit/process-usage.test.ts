import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { readProcess, readThreadsCpu, threadCpuBetween } from '../../bench/process-usage.ts';

/** A worker thread that spins for `ms` of its own CPU, then waits to be told to end. */
async function spinningThread(ms: number): Promise<{ done: Promise<void>; end: () => Promise<void> }> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const spent = () => { const { user, system } = process.threadCpuUsage(); return (user + system) / 1000; };
     while (spent() < ${ms}) {}
     parentPort.postMessage('spun');
     parentPort.on('message', () => process.exit(0));`,
    { eval: true },
  );
  const done = once(worker, 'message').then(() => undefined);
  return { done, end: async () => void (worker.postMessage('end'), await once(worker, 'exit')) };
}

test('the CPU of a process’s threads is split by thread name, and a thread’s CPU is its own', async () => {
  const before = readThreadsCpu(process.pid);
  assert.ok([...before.values()].some(({ name }) => name === 'MainThread'), `threads: ${JSON.stringify([...before.values()])}`);

  const spinning = await spinningThread(300);
  await spinning.done;
  const byName = threadCpuBetween(before, readThreadsCpu(process.pid));
  // Clock ticks are 10 ms: the thread's own 300 ms, give or take a tick, and not the main thread's.
  assert.ok((byName.get('WorkerThread') ?? 0) >= 280, `by name: ${JSON.stringify([...byName])}`);
  assert.ok((byName.get('MainThread') ?? 0) < 250, `by name: ${JSON.stringify([...byName])}`);
  await spinning.end();
});

test('a thread that ended between two readings counts under no name, not even as negative time; the process keeps it', async () => {
  const spinning = await spinningThread(200);
  await spinning.done;
  const before = readThreadsCpu(process.pid);
  await spinning.end();
  const byName = threadCpuBetween(before, readThreadsCpu(process.pid));
  assert.equal(byName.get('WorkerThread') ?? 0, 0, `by name: ${JSON.stringify([...byName])}`);
  assert.ok(readProcess(process.pid)!.ownCpuMs >= 190, 'the process’s own CPU has its ended thread’s');
});
