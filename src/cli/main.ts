/**
 * The `longhaul` command line: `longhaul dev` runs a whole local engine in one
 * process; `longhaul run "<task>"` drives one session against it through the official SDK.
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, DEFAULT_API_PORT, DEFAULT_DATA_DIR, DEFAULT_TEMPORAL_PORT } from '../config/dev-config.ts';
import { CliError } from './cli-error.ts';
import { Terminal } from './output.ts';

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
