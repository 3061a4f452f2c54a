import type { Client } from '@temporalio/client';
import type { Longhaul } from '../client/longhaul.ts';
import type { ApiStores } from '../store/open-api-stores.ts';
import type { SessionStore } from '../store/session-store.ts';
import { DreamService } from './dream-service.ts';
import { DreamSchedules } from './dream-schedules.ts';
import { TemporalDreamRunner } from './temporal-dream-runner.ts';

/**
 * Dreams on a server's or worker's stores: the service the API's dream routes use, and
 * what a worker needs to run `dreamWorkflow`'s activities (the same stores).
 */
export function dreamingFor({ client, taskQueue, longhaul, store, stores }: { client: Client; taskQueue: string; longhaul: Longhaul; store: SessionStore; stores: Pick<ApiStores, 'dreams' | 'memories' | 'sessionMemory' | 'files'> }) {
  const runner = new TemporalDreamRunner({ client, taskQueue, storeId: store.storeId });
  const schedules = new DreamSchedules({ client, taskQueue, storeId: store.storeId });
  const service = new DreamService({ dreams: stores.dreams, memories: stores.memories, sessions: longhaul.sessions, runner, schedules });
  return {
    service,
    worker: { service, dreams: stores.dreams, memories: stores.memories, sessionMemory: stores.sessionMemory, files: stores.files, longhaul, store },
  };
}
