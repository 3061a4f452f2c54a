import { newId } from '../src/store/ids.ts';
import { openPgliteDriver } from '../src/store/pglite-driver.ts';
import { SessionStore } from '../src/store/session-store.ts';
import { timeSequentially, type Summary } from './stats.ts';

/**
 * What the store's calls cost on a fresh in-memory PGlite with nothing else
 * running in the process: a bare statement, an empty transaction, and the
 * session store's own calls, so the per-step store time can be split into
 * per-statement cost times statements per call.
 */
export async function measureStoreFloor({ samples }: { samples: number }) {
  const time = (fn: (i: number) => Promise<unknown>): Promise<Summary> => timeSequentially(samples, fn);
  const driver = await openPgliteDriver();
  const raw = {
    select_1: await time(() => driver.query('SELECT 1')),
    empty_transaction: await time(() => driver.transaction(async () => {})),
    transaction_of_6_statements: await time(() =>
      driver.transaction(async (tx) => {
        for (let s = 0; s < 6; s++) await tx.query('SELECT 1');
      }),
    ),
    notify: await time(() => driver.notify('bench_channel', 'x')),
  };
  await driver.close();

  const store = await SessionStore.open(await openPgliteDriver());
  const sessionId = newId('sesn');
  const calls = {
    append_1_event: await time((i) => store.append(sessionId, [{ key: `e${i}`, event: { type: 'agent.message', content: [{ type: 'text', text: 'x' }] } }])),
    append_1_event_and_transcript_item: await time((i) =>
      store.append(
        sessionId,
        [{ key: `r${i}`, event: { type: 'agent.tool_result', tool_use_id: 'sevt_x', content: [{ type: 'text', text: '' }], is_error: false } }],
        [{ key: `r${i}`, item: { kind: 'tool_result', tool_use_id: 'toolu_x', content: [{ type: 'text', text: '' }], is_error: false } }],
      ),
    ),
    find_event_by_key: await time((i) => store.findEventByKey(sessionId, `e${i}`)),
    read_transcript_tail: await time((i) => store.readTranscript(sessionId, { afterPos: i })),
  };
  await store.close();
  return { driver: 'pglite in memory, idle process', samples, raw, session_store: calls };
}
