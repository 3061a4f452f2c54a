import { MEMORY_MOUNT_ROOT } from '../src/schemas/api-memory.ts';
import { newId } from '../src/store/ids.ts';
import { openApiStores, type ApiStores } from '../src/store/open-api-stores.ts';
import { openPgliteDriver } from '../src/store/pglite-driver.ts';
import type { DevServer } from '../src/temporal/dev-server.ts';
import { lastToolResults, text, toolUse, type ScriptFunction } from '../src/testing/index.ts';
import { collectEvents, isIdle, startHarness, type Harness } from '../test/support/harness.ts';
import { progress, round, summarize } from './stats.ts';

const TARGET_WRITE_VISIBLE_P50_MS = 200;
const TARGET_MOUNT_1000_P50_MS = 300;
const MOUNTED_MEMORIES = 1000;
const agent = { name: 'bench', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };

/**
 * Benchmark: memory stores in the sandbox.
 *
 * 1. An agent's write under /mnt/memory → visible through the store (what
 *    `memories.retrieve` reads). The command writes the file and prints the container's
 *    clock (the host's, in nanoseconds) as its last act; the bench polls the store
 *    every 2 ms and takes the first time it holds the new content. So each figure is
 *    the sandbox call's return, the commit after it, and at most one poll.
 * 2. What mounting a store of 1,000 memories adds to a session's start: from creating a
 *    session to its first tool result (container start, the mount, the call) with the
 *    store attached, minus the same without it; fresh sessions, alternating.
 */
export async function measureMemorySync({ temporal, samples, startSamples }: { temporal: DevServer; samples: number; startSamples: number }) {
  const driver = await openPgliteDriver();
  const stores = await openApiStores(driver);
  let nextCommand = 'true';
  // Each turn: one bash call, then done.
  const script: ScriptFunction = (request) => (lastToolResults(request).length === 0 ? { content: [toolUse('bash', { command: nextCommand })] } : { content: [text('ok')] });
  try {
    await using h = await startHarness({ temporal, script, heartbeatEveryMs: 1000, apiStores: stores });
    const visible = await writeToVisible(h, stores, samples, (command) => (nextCommand = command));
    nextCommand = 'true';
    const mount = await mountCost(h, stores, startSamples);
    return {
      store: 'pglite (in the worker process)',
      agent_write_to_visible: { target_p50_ms_max: TARGET_WRITE_VISIBLE_P50_MS, meets_target: visible.p50_ms <= TARGET_WRITE_VISIBLE_P50_MS, ...visible },
      mount_1000_memories_added_to_session_start: {
        target_p50_ms_max: TARGET_MOUNT_1000_P50_MS,
        meets_target: mount.added_p50_ms <= TARGET_MOUNT_1000_P50_MS,
        ...mount,
      },
    };
  } finally {
    await driver.close();
  }
}

const GO = [{ type: 'user.message' as const, content: [{ type: 'text' as const, text: 'go' }] }];

/** Starts a session (with the store attached, when given) on its first turn. */
async function startSession(h: Harness, stores: ApiStores, storeId: string | undefined, name: string): Promise<string> {
  const id = newId('sesn');
  if (storeId) {
    await stores.sessionMemory.attach(id, [{ type: 'memory_store', memory_store_id: storeId, access: 'read_write', name, description: '', instructions: null, mount_path: `${MEMORY_MOUNT_ROOT}/${name}` }]);
  }
  await h.longhaul.sessions.create({ id, agent, events: GO });
  return id;
}

/** Waits for the session's next idle after `seen` events. */
async function idleAfter(h: Harness, sessionId: string, seen: number): Promise<number> {
  const events = await collectEvents(h.longhaul, sessionId, (e, all) => all.length > seen && isIdle(e), { timeoutMs: 60_000 });
  return events.length;
}

async function writeToVisible(h: Harness, stores: ApiStores, samples: number, setCommand: (command: string) => void) {
  const memoryStore = await stores.memories.create({ name: 'bench' });
  setCommand('true');
  const sessionId = await startSession(h, stores, memoryStore.id, 'bench');
  let seen = await idleAfter(h, sessionId, 0);
  const latencies: number[] = [];
  for (let i = -3; i < samples; i++) {
    const content = `sample ${i} ${Date.now()}`;
    setCommand(`printf '%s' '${content}' > ${MEMORY_MOUNT_ROOT}/bench/notes.md; date +%s%N`);
    let seenMs: number | undefined;
    const poll = (async () => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const { data } = await stores.memories.listMemories(memoryStore.id, { limit: 10, withContent: true });
        if (data.some((m) => 'content' in m && m.content === content)) {
          seenMs = Date.now();
          return;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await h.longhaul.events.send(sessionId, GO);
    seen = await idleAfter(h, sessionId, seen);
    await poll;
    const events = await h.store.listEvents(sessionId, { limit: 10_000 });
    const result = events.map((e) => e.event).filter((e) => e.type === 'agent.tool_result').at(-1);
    const printed = result?.type === 'agent.tool_result' ? (result.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('').trim() : '';
    const endedMs = Number(BigInt(printed) / 1_000_000n);
    if (i >= 0 && seenMs !== undefined) {
      latencies.push(seenMs - endedMs);
      progress(`memory write ${i + 1}/${samples}: visible ${round(seenMs - endedMs)} ms after the command ended`);
    }
  }
  return summarize(latencies);
}

async function mountCost(h: Harness, stores: ApiStores, samples: number) {
  const big = await stores.memories.create({ name: 'big' });
  for (let i = 0; i < MOUNTED_MEMORIES; i++) {
    await stores.memories.createMemory(big.id, { path: `/topic-${i % 20}/note-${i}.md`, content: `memory ${i}: ${'x'.repeat(200)}` }, { type: 'api_actor', api_key_id: 'apikey_bench' });
  }
  // From the session's creation to its first tool result: container start, the mount, the call.
  const firstCall = async (storeId: string | undefined) => {
    const startedMs = Date.now();
    const sessionId = await startSession(h, stores, storeId, 'big');
    await collectEvents(h.longhaul, sessionId, (e) => e.type === 'agent.tool_result', { timeoutMs: 60_000 });
    const tookMs = Date.now() - startedMs;
    await idleAfter(h, sessionId, 0);
    await h.sandboxes.destroy(sessionId, { removeVolume: true });
    return tookMs;
  };
  const without: number[] = [];
  const withStore: number[] = [];
  await firstCall(undefined);
  for (let i = 0; i < samples; i++) {
    without.push(await firstCall(undefined));
    withStore.push(await firstCall(big.id));
    progress(`mount ${i + 1}/${samples}: session start → first tool result ${withStore.at(-1)} ms with ${MOUNTED_MEMORIES} memories, ${without.at(-1)} ms without`);
  }
  const a = summarize(withStore);
  const b = summarize(without);
  return { memories: MOUNTED_MEMORIES, added_p50_ms: round(a.p50_ms - b.p50_ms), with_store: a, without_store: b };
}
