import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVE_READY_LINE } from '../../src/cli/serve-command.ts';
import { WORKER_READY_LINE } from '../../src/cli/worker-command.ts';
import { removeSessionSandboxes, unmountDisksUnder } from './docker.ts';
import { cliEnv, kill9, startLonghaul, type LonghaulProcess } from './longhaul-cli.ts';
import { freePort } from '../../src/net/free-port.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';
import { startTcpBalancer, type TcpBalancer } from './tcp-balancer.ts';
import { startRealTemporal, type RealTemporal } from './temporal-server.ts';

export const TOPOLOGY_API_KEY = 'lh-topology-key-0123456789';

/** One `longhaul serve` or `longhaul worker` slot: the process in it now, and how to replace it. */
export type Slot = {
  name: string;
  current: LonghaulProcess;
  /** Starts (and restarts) count here. */
  starts: number;
  /** kill -9 of the process in the slot; `restart` puts a new one there. */
  kill(): Promise<void>;
  restart(): Promise<void>;
};

/**
 * Longhaul as a production cluster runs it, as processes on loopback: a real Temporal
 * server on PostgreSQL, Longhaul's own database on the same PostgreSQL server, several
 * `longhaul serve` behind a TCP balancer and several `longhaul worker` sharing one task
 * queue, one Docker engine and one data folder. Workers talk to `modelUrl` (the scripted model).
 */
export type ProductionTopology = {
  postgres: TestPostgres;
  temporal: RealTemporal;
  databaseUrl: string;
  /** Where clients go: the balancer in front of every `serve`. */
  apiUrl: string;
  apiKey: string;
  balancer: TcpBalancer;
  serves: Slot[];
  workers: Slot[];
  sandboxDir: string;
  /** Removes the given sessions' sandboxes, stops every process and server, deletes the folders. */
  stop(sessionIds: readonly string[]): Promise<void>;
};

export async function startProductionTopology({ serves = 2, workers = 3, modelUrl }: { serves?: number; workers?: number; modelUrl: string }): Promise<ProductionTopology> {
  const postgres = await startPostgres();
  let temporal: RealTemporal | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'longhaul-topology-'));
  const slots: Slot[] = [];
  try {
    temporal = await startRealTemporal(postgres);
    const databaseUrl = await postgres.createDatabase();
    const engine = { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporal.address, LONGHAUL_TASK_QUEUE: 'longhaul-topology' };
    const servePorts = await Promise.all(Array.from({ length: serves }, () => freePort()));
    const slot = async (name: string, args: string[], env: NodeJS.ProcessEnv, readyLine: string): Promise<Slot> => {
      const s: Slot = {
        name,
        current: await startLonghaul(args, env, readyLine),
        starts: 1,
        kill: () => kill9(s.current.child),
        restart: async () => {
          s.current = await startLonghaul(args, env, readyLine);
          s.starts += 1;
        },
      };
      slots.push(s);
      return s;
    };
    // Workers one after the other: the first migrates the database, and three bundling their workflows at once starve 2 cores.
    const workerSlots: Slot[] = [];
    for (let i = 0; i < workers; i++) {
      workerSlots.push(
        await slot(`worker-${i + 1}`, ['worker', '--data-dir', dataDir], cliEnv({ ...engine, ANTHROPIC_API_KEY: 'topology-model-key', ANTHROPIC_BASE_URL: modelUrl }), WORKER_READY_LINE),
      );
    }
    const serveSlots = await Promise.all(
      servePorts.map((port, i) => slot(`serve-${i + 1}`, ['serve', '--port', String(port)], cliEnv({ ...engine, LONGHAUL_API_KEY: TOPOLOGY_API_KEY }), SERVE_READY_LINE)),
    );
    const balancer = await startTcpBalancer(() => servePorts);
    const sandboxDir = join(dataDir, 'sandboxes');
    const server = temporal;
    return {
      postgres,
      temporal,
      databaseUrl,
      apiUrl: balancer.url,
      apiKey: TOPOLOGY_API_KEY,
      balancer,
      serves: serveSlots,
      workers: workerSlots,
      sandboxDir,
      async stop(sessionIds) {
        await balancer.close();
        await Promise.all(slots.map((s) => kill9(s.current.child)));
        await removeSessionSandboxes(sandboxDir, sessionIds).catch(() => {});
        unmountDisksUnder(dataDir);
        await server.stop();
        await postgres.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(slots.map((s) => kill9(s.current.child)));
    await temporal?.stop();
    await postgres.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
