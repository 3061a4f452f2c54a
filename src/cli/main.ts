/**
 * The `longhaul` command line: `longhaul dev` runs a whole local engine in one
 * process; `longhaul run "<task>"` drives one session against it through the official SDK;
 * `longhaul serve` and `longhaul worker` are the API and the workers for production.
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, DEFAULT_API_PORT, DEFAULT_DATA_DIR, DEFAULT_TEMPORAL_PORT } from '../config/dev-config.ts';
import { CliError } from './cli-error.ts';
import { Terminal } from './output.ts';
import type { ApiConnectionFlags } from './api-connection.ts';
import type { ApiTargetFlags, DeploymentCreateFlags } from './deployment-commands.ts';
import { OUTPUT_FORMATS, RESOURCE_KINDS, type CreateFlags, type OutputFormat, type ResourceFlags } from './resource-flags.ts';
import type { ServeCommandFlags } from './serve-command.ts';
import type { TailFlags } from './tail-command.ts';
import type { WorkerCommandFlags } from './worker-command.ts';

export const DEFAULT_RUN_MODEL = 'claude-sonnet-5-5';

/**
 * Runs the CLI with `argv` (as `process.argv`: node, script, args…) and resolves to
 * the exit code.
 */
export async function main(argv: readonly string[], terminal: Terminal = new Terminal()): Promise<number> {
  let exitCode = 0;
  // `longhaul run … | head`: the reader went away; stop quietly instead of crashing on EPIPE.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(exitCode);
    throw error;
  });
  const program = new Command('longhaul')
    .description('Long-running Claude agents on Temporal, behind the Managed Agents API.')
    .showHelpAfterError()
    .exitOverride();

  const dataDirOption = () =>
    new Option('--data-dir <dir>', `data folder (env LONGHAUL_DATA_DIR; default ./${DEFAULT_DATA_DIR})`);

  program
    .command('dev')
    .description('Run a local engine: Temporal dev server, store, Docker sandboxes, worker and HTTP API, in one process.')
    .addOption(dataDirOption())
    .addOption(new Option('--port <port>', `HTTP API port (env LONGHAUL_PORT; default ${DEFAULT_API_PORT})`))
    .addOption(new Option('--host <host>', 'HTTP API address to listen on').default('127.0.0.1'))
    .addOption(new Option('--temporal-port <port>', `Temporal dev server gRPC port, started there or reused; UI on port + 1000 (default ${DEFAULT_TEMPORAL_PORT})`))
    .addOption(new Option('--task-queue <name>', 'Temporal task queue of the worker (env LONGHAUL_TASK_QUEUE)'))
    .action(async (options: DevCommandFlags) => {
      const { runDev } = await import('./dev-command.ts');
      exitCode = await runDev({ flags: options, terminal });
    });

  program
    .command('run')
    .description('Run one session against `longhaul dev` (or --url) through the Anthropic SDK and stream what the agent does.')
    .argument('<task...>', 'what the agent should do')
    .addOption(dataDirOption())
    .addOption(new Option('--url <url>', 'API base URL (env LONGHAUL_URL; default: the running `longhaul dev` of the data folder)'))
    .addOption(new Option('--api-key <key>', 'API key (env LONGHAUL_API_KEY; default: the running `longhaul dev`\'s)'))
    .addOption(new Option('--model <model>', 'model of the agent').default(DEFAULT_RUN_MODEL))
    .addOption(new Option('--system <prompt>', 'system prompt of the agent'))
    .addOption(new Option('--agent <id>', 'use this existing agent instead of creating one'))
    .addOption(new Option('--environment <id>', 'use this existing environment instead of creating one'))
    .addOption(new Option('--json', 'print the raw events as JSON lines instead'))
    .action(async (taskWords: string[], options: RunCommandFlags) => {
      const { runRun } = await import('./run-command.ts');
      exitCode = await runRun({ task: taskWords.join(' '), flags: options, terminal });
    });

  // Routines from the terminal: the same target (--url, --api-key, or the running `longhaul dev`) as `run`.
  const apiTargetOptions = (command: Command) =>
    command
      .addOption(dataDirOption())
      .addOption(new Option('--url <url>', 'API base URL (env LONGHAUL_URL; default: the running `longhaul dev` of the data folder)'))
      .addOption(new Option('--api-key <key>', 'API key (env LONGHAUL_API_KEY)'))
      .addOption(new Option('--json', 'print the API objects as JSON lines'));

  const deployments = program.command('deployments').description('Agents on a schedule (cron, in a timezone) or on demand: list, create, run, pause, unpause, archive.');
  apiTargetOptions(deployments.command('list').description('List deployments, newest first.'))
    .addOption(new Option('--all', 'include archived deployments'))
    .action(async (options: ApiTargetFlags & { all?: boolean }) => {
      const { listDeployments } = await import('./deployment-commands.ts');
      exitCode = await listDeployments({ flags: options, all: options.all, terminal });
    });
  apiTargetOptions(
    deployments
      .command('create')
      .description('Create a deployment whose runs each start a session with <task>.')
      .argument('<task...>', 'what each run should do'),
  )
    .requiredOption('--name <name>', 'name of the deployment')
    .addOption(new Option('--cron <expression>', 'five-field cron, e.g. "0 8 * * 1-5" (omit for on-demand runs only)'))
    .addOption(new Option('--timezone <zone>', 'IANA timezone of the cron').default('UTC'))
    .addOption(new Option('--agent <id>', 'use this agent (default: create one)'))
    .addOption(new Option('--environment <id>', 'use this environment (default: create one)'))
    .addOption(new Option('--model <model>', 'model of the agent created').default(DEFAULT_RUN_MODEL))
    .action(async (taskWords: string[], options: DeploymentCreateFlags) => {
      const { createDeployment } = await import('./deployment-commands.ts');
      exitCode = await createDeployment({ task: taskWords.join(' '), flags: options, terminal });
    });
  for (const [action, description] of [
    ['run', 'Run a deployment now.'],
    ['pause', 'Pause a deployment: its schedule stops firing.'],
    ['unpause', 'Unpause a deployment.'],
    ['archive', 'Archive a deployment: its schedule is removed.'],
  ] as const) {
    apiTargetOptions(deployments.command(action).description(description).argument('<deployment-id>'))
      .action(async (id: string, options: ApiTargetFlags) => {
        const { actOnDeployment } = await import('./deployment-commands.ts');
        exitCode = await actOnDeployment({ id, action, flags: options, terminal });
      });
  }
  const runs = program.command('runs').description('Deployment runs.');
  apiTargetOptions(runs.command('list').description('List deployment runs, newest first (at most 200).'))
    .addOption(new Option('--deployment <id>', 'only this deployment\'s runs'))
    .action(async (options: ApiTargetFlags & { deployment?: string }) => {
      const { listRuns } = await import('./deployment-commands.ts');
      exitCode = await listRuns({ flags: options, deployment: options.deployment, terminal });
    });

  // Resources from the terminal, over HTTP with the official SDK (in the spirit of Anthropic's `ant`).
  const connectionOptions = (command: Command) =>
    command
      .addOption(new Option('--base-url <url>', `API base URL (env LONGHAUL_BASE_URL; default: the running \`longhaul dev\` of the data folder, else http://127.0.0.1:${DEFAULT_API_PORT})`))
      .addOption(new Option('--api-key <key>', 'API key (env LONGHAUL_API_KEY; default: the running `longhaul dev`\'s, else ANTHROPIC_API_KEY)'))
      .addOption(dataDirOption());
  const outputOption = (formats: readonly OutputFormat[] = OUTPUT_FORMATS) => new Option('-o, --output <format>', 'how to print the result').choices(formats);

  for (const kind of RESOURCE_KINDS) {
    const group = program.command(kind).description(`${kind[0]!.toUpperCase()}${kind.slice(1)} of the API: list, get, create, archive.`);
    connectionOptions(group.command('list').description(`List ${kind}, newest first.`))
      .addOption(new Option('--all', `include archived ${kind}`))
      .addOption(outputOption())
      .action(async (options: ResourceFlags & { all?: boolean }) => {
        const { listResources } = await import('./resource-commands.ts');
        exitCode = await listResources({ kind, flags: options, all: options.all === true, terminal });
      });
    connectionOptions(group.command('get').description(`Show one of the ${kind}.`).argument('<id>'))
      .addOption(outputOption())
      .action(async (id: string, options: ResourceFlags) => {
        const { getResource } = await import('./resource-commands.ts');
        exitCode = await getResource({ kind, id, flags: options, terminal });
      });
    const create = connectionOptions(group.command('create').description(`Create one of the ${kind} from a file (YAML or JSON: the create params) or from flags.`))
      .addOption(new Option('-f, --file <file>', 'the create params, as YAML or JSON'))
      .addOption(outputOption());
    if (kind === 'agents') {
      create
        .addOption(new Option('--name <name>', 'name of the agent'))
        .addOption(new Option('--model <model>', 'model of the agent'))
        .addOption(new Option('--system <prompt>', 'system prompt'))
        .addOption(new Option('--description <text>', 'description'));
    } else if (kind === 'environments') {
      create.addOption(new Option('--name <name>', 'name of the environment')).addOption(new Option('--description <text>', 'description'));
    } else if (kind === 'sessions') {
      create
        .addOption(new Option('--agent <id>', 'agent of the session'))
        .addOption(new Option('--environment <id>', 'environment of the session'))
        .addOption(new Option('--title <title>', 'title of the session'));
    } else {
      create.addOption(new Option('--name <name>', 'display name of the vault'));
    }
    create.action(async (options: CreateFlags) => {
      const { createResource } = await import('./resource-commands.ts');
      exitCode = await createResource({ kind, flags: options, terminal });
    });
    connectionOptions(group.command('archive').description(`Archive one of the ${kind}.`).argument('<id>'))
      .addOption(outputOption())
      .action(async (id: string, options: ResourceFlags) => {
        const { archiveResource } = await import('./resource-commands.ts');
        exitCode = await archiveResource({ kind, id, flags: options, terminal });
      });
    if (kind === 'sessions') {
      connectionOptions(group.command('tail').description("Print a session's events, then follow them until it goes idle or ends.").argument('<session-id>'))
        .addOption(new Option('--follow', 'keep following after the session goes idle (Ctrl-C stops)'))
        .addOption(new Option('--json', 'print the raw events as JSON lines'))
        .action(async (sessionId: string, options: TailFlags) => {
          const { runTail } = await import('./tail-command.ts');
          exitCode = await runTail({ sessionId, flags: options, terminal });
        });
    }
  }

  connectionOptions(
    program
      .command('apply')
      .description('Make agents and environments as a file defines them (YAML documents {kind: agent|environment, name, …create params}, separated by ---): found by name, created if missing, updated if different.'),
  )
    .requiredOption('-f, --file <file>', 'the definitions, YAML or JSON')
    .action(async (options: ApiConnectionFlags & { file: string }) => {
      const { runApply } = await import('./apply-command.ts');
      exitCode = await runApply({ file: options.file, flags: options, terminal });
    });

  connectionOptions(
    program
      .command('get')
      .description('Print an agent or environment, found by name or id, as a document `longhaul apply -f` takes back unchanged.')
      .argument('<kind>', 'agent or environment')
      .argument('<name-or-id>'),
  )
    .addOption(outputOption(['yaml', 'json']).default('yaml'))
    .action(async (kind: string, nameOrId: string, options: ResourceFlags) => {
      if (kind !== 'agent' && kind !== 'environment') throw new CliError(`get takes agent or environment, not ${kind}`, { exitCode: 2 });
      const { getDocument } = await import('./resource-commands.ts');
      exitCode = await getDocument({ kind, nameOrId, flags: options, terminal });
    });

  const engineOptions = (command: Command) =>
    command
      .addOption(new Option('--temporal-address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS; default 127.0.0.1:7233)'))
      .addOption(new Option('--temporal-namespace <name>', 'Temporal namespace (env TEMPORAL_NAMESPACE; default default)'))
      .addOption(new Option('--task-queue <name>', 'Temporal task queue of the workers (env LONGHAUL_TASK_QUEUE; default longhaul)'))
      .addOption(new Option('--database-url <url>', 'PostgreSQL connection string (env DATABASE_URL; required)'));

  engineOptions(
    program
      .command('serve')
      .description('Serve the Managed Agents HTTP API for production: on a Temporal cluster and PostgreSQL, API keys from LONGHAUL_API_KEYS or LONGHAUL_API_KEY; no worker unless --with-worker. The web console is at /console/ (LONGHAUL_TEMPORAL_UI_URL: the Temporal Web UI it links to).'),
  )
    .addOption(new Option('--port <port>', `HTTP API port (env LONGHAUL_PORT; default ${DEFAULT_API_PORT})`))
    .addOption(new Option('--host <host>', 'address to listen on (env LONGHAUL_HOST; default 127.0.0.1)'))
    .addOption(new Option('--with-worker', 'also run a worker in this process (the options of `longhaul worker` apply)'))
    .addOption(dataDirOption())
    .addOption(new Option('--scripted-model', 'with --with-worker: the scripted demo model instead of Claude'))
    .action(async (options: ServeCommandFlags) => {
      const { runServe } = await import('./serve-command.ts');
      exitCode = await runServe({ flags: options, terminal });
    });

  engineOptions(
    program
      .command('worker')
      .description('Run Longhaul workers alone, for scaling out: sessions on Temporal, the PostgreSQL store, Docker sandboxes; model from ANTHROPIC_API_KEY. SIGTERM drains.'),
  )
    .addOption(dataDirOption())
    .addOption(new Option('--scripted-model', 'serve the scripted demo model in this process instead of Claude (for trying things out; not Claude)'))
    .action(async (options: WorkerCommandFlags) => {
      const { runWorker } = await import('./worker-command.ts');
      exitCode = await runWorker({ flags: options, terminal });
    });

  program
    .command('setup')
    .description('Install what longhaul dev needs on this machine (Node, dependencies, Temporal CLI, Docker, sandbox image): runs scripts/setup.sh.')
    .action(async () => {
      const { runSetup } = await import('./setup-command.ts');
      exitCode = await runSetup();
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof CliError || error instanceof ConfigError) {
      terminal.error(`longhaul: ${error.message}`);
      return error instanceof CliError ? error.exitCode : 2;
    }
    throw error;
  }
}

export type DevCommandFlags = {
  dataDir?: string;
  port?: string;
  host: string;
  temporalPort?: string;
  taskQueue?: string;
};

export type RunCommandFlags = {
  dataDir?: string;
  url?: string;
  apiKey?: string;
  model: string;
  system?: string;
  agent?: string;
  environment?: string;
  json?: boolean;
};
