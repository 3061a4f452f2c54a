import { after, before } from 'node:test';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { startTestTemporal, type Harness } from './harness.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';
import { startWorkerProcess } from './worker-processes.ts';

/**
 * What a crash test file needs: a Temporal dev server and PostgreSQL, started before its
 * tests and stopped after them, and worker processes on both (to `kill9`). Workers in
 * child processes share the store through PostgreSQL, as production workers do.
 *
 * @example
 * const servers = crashServers();
 * await using h = await startHarness({ temporal: servers.temporal, script, worker: false, postgresUrl: servers.postgres.url });
 * const worker = await servers.startWorker(h);
 */
export function crashServers() {
  let temporal: DevServer | undefined;
  let postgres: TestPostgres | undefined;
  before(async () => {
    [temporal, postgres] = await Promise.all([startTestTemporal(), startPostgres()]);
  });
  after(async () => {
    await Promise.all([temporal?.stop(), postgres?.stop()]);
  });
  const started = <T>(server: T | undefined): T => {
    if (server === undefined) throw new Error('crashServers: the servers start in before()');
    return server;
  };
  return {
    get temporal(): DevServer {
      return started(temporal);
    },
    get postgres(): TestPostgres {
      return started(postgres);
    },
    /** A worker process on both servers; `context` sets its context window and byte budget. */
    startWorker: (harness: Harness, context: { contextWindowTokens?: number; contextBudgetBytes?: number } = {}) =>
      startWorkerProcess(harness, { postgresUrl: started(postgres).url, temporalAddress: started(temporal).address, context }),
  };
}
