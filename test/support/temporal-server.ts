import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { isServing, LOW_LATENCY_DYNAMIC_CONFIG, type DevServer } from '../../src/temporal/dev-server.ts';
import { freePort } from '../../src/net/free-port.ts';
import type { TestPostgres } from './postgres.ts';

/** A real Temporal server (its own binary, four history shards) on PostgreSQL, as a cluster runs it. */
export type RealTemporal = DevServer & {
  /** Kills the server (SIGKILL: no goodbye) and starts it again on the same databases and ports. */
  crashAndRestart(): Promise<void>;
  logFile: string;
};

function serverDir(): string {
  const dir = process.env['LONGHAUL_TEMPORAL_SERVER_DIR'];
  if (!dir || !existsSync(join(dir, 'bin', 'server'))) {
    throw new Error('the real Temporal server is not built: run `LONGHAUL_SETUP_TEMPORAL_SERVER=1 bash scripts/setup.sh` and source .cache/env.sh');
  }
  return dir;
}

/**
 * Starts the Temporal server built by setup on two new databases of `postgres` (schema
 * made with its own SQL tool), every port free and on loopback, and registers the
 * `default` namespace. Its log goes to a file in its folder.
 */
export async function startRealTemporal(postgres: TestPostgres): Promise<RealTemporal> {
  const dir = serverDir();
  const work = mkdtempSync('/tmp/longhaul-temporal-server-');
  const { hostname, port: pgPort, username } = new URL(postgres.url);
  const suffix = Math.random().toString(36).slice(2, 8);
  const databases = { default: `temporal_${suffix}`, visibility: `temporal_visibility_${suffix}` };
  const sql = (database: string, ...args: string[]) =>
    execFileSync(join(dir, 'bin', 'sql'), ['--plugin', 'postgres12', '--ep', hostname, '-p', pgPort, '-u', username, '--db', database, ...args], { stdio: 'pipe' });
  for (const [kind, database] of Object.entries(databases)) {
    sql(database, 'create-database');
    sql(database, 'setup-schema', '-v', '0.0');
    sql(database, 'update-schema', '-d', join(dir, 'schema', 'postgresql', 'v12', kind === 'default' ? 'temporal' : 'visibility', 'versioned'));
  }
  const ports = Object.fromEntries(
    await Promise.all(['frontend', 'frontendMembership', 'frontendHttp', 'history', 'historyMembership', 'matching', 'matchingMembership', 'worker', 'workerMembership', 'pprof', 'metrics'].map(async (name) => [name, await freePort()] as const)),
  );
  const configFile = join(work, 'config.yaml');
  // The dev server's settings, so the production topology is measured as `longhaul dev` is.
  const dynamicYaml = Object.entries(LOW_LATENCY_DYNAMIC_CONFIG).map(([key, value]) => `${key}:\n  - value: ${JSON.stringify(value)}\n`);
  writeFileSync(join(work, 'dynamic.yaml'), dynamicYaml.join(''));
  writeFileSync(configFile, configYaml({ hostname, pgPort, username, databases, ports, dynamicConfig: join(work, 'dynamic.yaml') }));
  const address = `127.0.0.1:${ports['frontend']}`;
  const logFile = join(work, 'server.log');
  let child: ChildProcess | undefined;

  const start = async () => {
    const log = openSync(logFile, 'a');
    child = spawn(join(dir, 'bin', 'server'), ['--config-file', configFile, '--allow-no-auth', 'start'], { stdio: ['ignore', log, log] });
    const deadline = Date.now() + 60_000;
    while (!(await isServing(address))) {
      if (child.exitCode !== null) throw new Error(`the Temporal server exited with code ${child.exitCode}: ${whyItStopped(readFileSync(logFile, 'utf8'))}`);
      if (Date.now() > deadline) throw new Error(`the Temporal server did not answer on ${address} within 60 s; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const kill = async (signal: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child!.once('exit', r));
    child.kill(signal);
    await gone;
  };
  await start();
  await registerDefaultNamespace(address);
  const stop = async () => {
    await kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  };
  return {
    address,
    uiUrl: '',
    started: true,
    get process() {
      return child;
    },
    logFile,
    async crashAndRestart() {
      await kill('SIGKILL');
      await start();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * What the server's JSON log says stopped it: the message and error of its last fatal or
 * error line (a Go stack trace follows them, and a log's tail holds only that); else the tail.
 */
function whyItStopped(log: string): string {
  for (const line of log.trimEnd().split('\n').reverse()) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string };
      if (entry.level === 'fatal' || entry.level === 'error') return `${entry.msg ?? ''}${entry.error ? `: ${entry.error}` : ''}`;
    } catch {
      // Not a JSON line.
    }
  }
  return log.slice(-2000);
}

/** A cluster starts with only its system namespace: register `default`, and wait until the frontend serves it. */
async function registerDefaultNamespace(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await connection.workflowService.registerNamespace({ namespace: 'default', workflowExecutionRetentionPeriod: msToTs(24 * 3600 * 1000) }).catch((error: { code?: number }) => {
      // ALREADY_EXISTS
      if (error.code !== 6) throw error;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        // The frontend caches namespaces; a workflow started before its refresh is refused.
        await connection.workflowService.listWorkflowExecutions({ namespace: 'default', pageSize: 1 });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await connection.close();
  }
}

function configYaml({
  hostname,
  pgPort,
  username,
  databases,
  ports,
  dynamicConfig,
}: {
  hostname: string;
  pgPort: string;
  username: string;
  databases: { default: string; visibility: string };
  ports: Record<string, number>;
  dynamicConfig: string;
}): string {
  const store = (database: string, conns: number) => `
      sql:
        pluginName: "postgres12"
        databaseName: "${database}"
        connectAddr: "${hostname}:${pgPort}"
        connectProtocol: "tcp"
        user: "${username}"
        password: ""
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: "1h"`;
  const service = (name: string, extra = '') => `
  ${name}:
    rpc:
      grpcPort: ${ports[name]}
      membershipPort: ${ports[`${name}Membership`]}
      bindOnLocalHost: true${extra}`;
  return `log:
  stdout: true
  level: warn

persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:${store(databases.default, 20)}
    visibility:${store(databases.visibility, 4)}

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  pprof:
    port: ${ports['pprof']}
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:${ports['metrics']}"

services:${service('frontend', `\n      httpPort: ${ports['frontendHttp']}`)}${service('history')}${service('matching')}${service('worker')}

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${ports['frontend']}"

dcRedirectionPolicy:
  policy: "noop"

dynamicConfigClient:
  filepath: "${dynamicConfig}"
  pollInterval: "10s"
`;
}
