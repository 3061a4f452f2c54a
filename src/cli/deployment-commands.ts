/**
 * `longhaul deployments …` and `longhaul runs list`: routines from the terminal, through
 * the official SDK against `longhaul dev` (or --url), like `longhaul run`.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { BetaManagedAgentsDeployment } from '@anthropic-ai/sdk/resources/beta/deployments';
import type { BetaManagedAgentsDeploymentRun } from '@anthropic-ai/sdk/resources/beta/deployment-runs';
import { CliError } from './cli-error.ts';
import type { Terminal } from './output.ts';
import { printTable } from './print-table.ts';
import { withApiErrors } from './run-command.ts';
import { resolveRunTarget } from './run-target.ts';

export type ApiTargetFlags = { dataDir?: string; url?: string; apiKey?: string; json?: boolean };

export type DeploymentCreateFlags = ApiTargetFlags & {
  name: string;
  cron?: string;
  timezone: string;
  agent?: string;
  environment?: string;
  model: string;
};

export type DeploymentAction = 'run' | 'pause' | 'unpause' | 'archive';

async function connect(flags: ApiTargetFlags): Promise<{ client: Anthropic; baseURL: string }> {
  const target = await resolveRunTarget({ dataDir: flags.dataDir, url: flags.url, apiKey: flags.apiKey });
  return { client: new Anthropic({ baseURL: target.baseURL, apiKey: target.apiKey, maxRetries: 2 }), baseURL: target.baseURL };
}

export async function listDeployments({ flags, all, terminal }: { flags: ApiTargetFlags; all?: boolean | undefined; terminal: Terminal }): Promise<number> {
  const { client, baseURL } = await connect(flags);
  const deployments = await withApiErrors(baseURL, async () => {
    const found: BetaManagedAgentsDeployment[] = [];
    for await (const deployment of client.beta.deployments.list({ include_archived: all === true })) found.push(deployment);
    return found;
  });
  if (flags.json) {
    for (const deployment of deployments) terminal.raw(`${JSON.stringify(deployment)}\n`);
    return 0;
  }
  if (deployments.length === 0) {
    terminal.line('no deployments yet: create one with `longhaul deployments create --name … --cron "0 8 * * 1-5" "<task>"`', 'dim');
    return 0;
  }
  printTable(terminal, ['ID', 'NAME', 'STATUS', 'SCHEDULE', 'NEXT RUN'], deployments.map((d) => [d.id, d.name, statusOf(d), scheduleOf(d), d.schedule?.upcoming_runs_at?.[0] ?? '—']));
  return 0;
}

export async function createDeployment({ task, flags, terminal }: { task: string; flags: DeploymentCreateFlags; terminal: Terminal }): Promise<number> {
  if (task.trim() === '') throw new CliError('say what each run should do: longhaul deployments create --name … "<task>"', { exitCode: 2 });
  const { client, baseURL } = await connect(flags);
  const deployment = await withApiErrors(baseURL, async () => {
    const agent = flags.agent ?? (await client.beta.agents.create({ name: flags.name, model: flags.model, tools: [{ type: 'agent_toolset_20260401' }] })).id;
    const environment = flags.environment ?? (await client.beta.environments.create({ name: `${flags.name} environment` })).id;
    return client.beta.deployments.create({
      name: flags.name,
      agent,
      environment_id: environment,
      initial_events: [{ type: 'user.message', content: [{ type: 'text', text: task }] }],
      schedule: flags.cron !== undefined ? { type: 'cron', expression: flags.cron, timezone: flags.timezone } : null,
    });
  });
  if (flags.json) {
    terminal.raw(`${JSON.stringify(deployment)}\n`);
    return 0;
  }
  terminal.line(`deployment ${deployment.id} · ${deployment.name} · ${scheduleOf(deployment)}`, 'ok');
  for (const at of deployment.schedule?.upcoming_runs_at ?? []) terminal.line(`  next: ${at}`, 'dim');
  return 0;
}

export async function actOnDeployment({ id, action, flags, terminal }: { id: string; action: DeploymentAction; flags: ApiTargetFlags; terminal: Terminal }): Promise<number> {
  const { client, baseURL } = await connect(flags);
  if (action === 'run') {
    const run = await withApiErrors(baseURL, () => client.beta.deployments.run(id));
    if (flags.json) terminal.raw(`${JSON.stringify(run)}\n`);
    else if (run.error) terminal.error(`run ${run.id} did not start: ${run.error.type}: ${run.error.message}`);
    else terminal.line(`run ${run.id} started session ${run.session_id} (watch it: the session's events, or \`longhaul runs list\`)`, 'ok');
    return run.error ? 1 : 0;
  }
  const deployment = await withApiErrors(baseURL, () => client.beta.deployments[action](id));
  if (flags.json) terminal.raw(`${JSON.stringify(deployment)}\n`);
  else terminal.line(`deployment ${deployment.id} · ${statusOf(deployment)}`, 'ok');
  return 0;
}

export async function listRuns({ flags, deployment, terminal }: { flags: ApiTargetFlags; deployment?: string | undefined; terminal: Terminal }): Promise<number> {
  const { client, baseURL } = await connect(flags);
  const runs = await withApiErrors(baseURL, async () => {
    const found: BetaManagedAgentsDeploymentRun[] = [];
    for await (const run of client.beta.deploymentRuns.list(deployment ? { deployment_id: deployment } : {})) {
      found.push(run);
      if (found.length >= 200) break;
    }
    return found;
  });
  if (flags.json) {
    for (const run of runs) terminal.raw(`${JSON.stringify(run)}\n`);
    return 0;
  }
  if (runs.length === 0) {
    terminal.line('no runs yet', 'dim');
    return 0;
  }
  printTable(
    terminal,
    ['ID', 'DEPLOYMENT', 'TRIGGER', 'CREATED', 'SESSION / ERROR'],
    runs.map((r) => [
      r.id,
      r.deployment_id,
      r.trigger_context.type === 'schedule' ? `schedule ${r.trigger_context.scheduled_at}` : 'manual',
      r.created_at,
      r.error ? `${r.error.type}: ${r.error.message}` : (r.session_id ?? '—'),
    ]),
  );
  return 0;
}

function statusOf(deployment: BetaManagedAgentsDeployment): string {
  if (deployment.archived_at) return 'archived';
  const reason = deployment.paused_reason;
  if (deployment.status === 'paused' && reason?.type === 'error') return `paused (${reason.error.type})`;
  return deployment.status;
}

function scheduleOf(deployment: BetaManagedAgentsDeployment): string {
  return deployment.schedule ? `${deployment.schedule.expression} (${deployment.schedule.timezone})` : 'manual only';
}
