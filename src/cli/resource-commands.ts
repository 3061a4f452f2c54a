/**
 * `longhaul agents|environments|sessions|vaults list|get|create|archive`: the API's
 * resources from the terminal, through the official SDK, in the spirit of Anthropic's `ant`.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { stringify } from 'yaml';
import { connectApi } from './api-connection.ts';
import { CliError } from './cli-error.ts';
import type { Terminal } from './output.ts';
import { printTable } from './print-table.ts';
import type { CreateFlags, OutputFormat, ResourceFlags, ResourceKind } from './resource-flags.ts';
import { agentDocument, environmentDocument, readObjects, type DocumentKind } from './resource-documents.ts';
import { withApiErrors } from './run-command.ts';

type Row = Record<string, unknown> & { id: string };

/** What the commands need of one kind beyond its SDK resource: its table, and how `create` reads flags. */
type KindSpec = {
  singular: string;
  columns: readonly string[];
  row(item: Row): string[];
  paramsFromFlags(flags: CreateFlags): Record<string, unknown>;
};

const str = (value: unknown): string => (typeof value === 'string' && value !== '' ? value : '—');
const status = (item: Row): string => (item['archived_at'] ? 'archived' : 'active');
const need = (value: string | undefined, flag: string, kind: string): string => {
  if (value === undefined) throw new CliError(`${kind} create needs ${flag} (or -f file.yaml)`, { exitCode: 2 });
  return value;
};

/**
 * The four calls every kind's SDK resource (`client.beta.agents`, …) has alike. Params are the
 * server's to check (a file may hold anything), so they go to the SDK as they are.
 */
type ResourceApi = {
  list(params: { include_archived: boolean }): AsyncIterable<Row>;
  retrieve(id: string): Promise<Row>;
  create(params: Record<string, unknown>): Promise<Row>;
  archive(id: string): Promise<Row>;
};

function apiOf(client: Anthropic, kind: ResourceKind): ResourceApi {
  return client.beta[kind] as unknown as ResourceApi;
}

const KINDS: Record<ResourceKind, KindSpec> = {
  agents: {
    singular: 'agent',
    columns: ['ID', 'NAME', 'VERSION', 'MODEL', 'STATUS', 'UPDATED'],
    row: (a) => [a.id, str(a['name']), String(a['version']), str((a['model'] as { id?: string } | undefined)?.id), status(a), str(a['updated_at'])],
    paramsFromFlags: (f) => ({
      name: need(f.name, '--name', 'agents'),
      model: need(f.model, '--model', 'agents'),
      ...(f.system !== undefined ? { system: f.system } : {}),
      ...(f.description !== undefined ? { description: f.description } : {}),
      tools: [{ type: 'agent_toolset_20260401' }],
    }),
  },
  environments: {
    singular: 'environment',
    columns: ['ID', 'NAME', 'CONFIG', 'STATUS', 'UPDATED'],
    row: (e) => [e.id, str(e['name']), str((e['config'] as { type?: string } | undefined)?.type), status(e), str(e['updated_at'])],
    paramsFromFlags: (f) => ({ name: need(f.name, '--name', 'environments'), ...(f.description !== undefined ? { description: f.description } : {}) }),
  },
  sessions: {
    singular: 'session',
    columns: ['ID', 'STATUS', 'AGENT', 'TITLE', 'CREATED'],
    row: (s) => {
      const agent = s['agent'] as { id?: string; version?: number } | undefined;
      return [s.id, s['archived_at'] ? 'archived' : str(s['status']), agent?.id ? `${agent.id} v${agent.version}` : '—', str(s['title']), str(s['created_at'])];
    },
    paramsFromFlags: (f) => ({
      agent: need(f.agent, '--agent', 'sessions'),
      environment_id: need(f.environment, '--environment', 'sessions'),
      ...(f.title !== undefined ? { title: f.title } : {}),
    }),
  },
  vaults: {
    singular: 'vault',
    columns: ['ID', 'NAME', 'STATUS', 'UPDATED'],
    row: (v) => [v.id, str(v['display_name']), status(v), str(v['updated_at'])],
    paramsFromFlags: (f) => ({ display_name: need(f.name, '--name', 'vaults') }),
  },
};

export async function listResources({ kind, flags, all, terminal }: { kind: ResourceKind; flags: ResourceFlags; all: boolean; terminal: Terminal }): Promise<number> {
  const spec = KINDS[kind];
  const { client, baseURL } = await connectApi({ flags });
  const items = await withApiErrors(baseURL, async () => {
    const found: Row[] = [];
    for await (const item of apiOf(client, kind).list({ include_archived: all })) found.push(item);
    return found;
  });
  const format = flags.output ?? 'table';
  if (format !== 'table') {
    printStructured(terminal, format, items);
    return 0;
  }
  if (items.length === 0) terminal.line(`no ${kind}${all ? '' : ' (archived ones are left out: --all shows them)'}`, 'dim');
  else printTable(terminal, spec.columns, items.map(spec.row));
  return 0;
}

export async function getResource({ kind, id, flags, terminal }: { kind: ResourceKind; id: string; flags: ResourceFlags; terminal: Terminal }): Promise<number> {
  const { client, baseURL } = await connectApi({ flags });
  const item = await withApiErrors(baseURL, () => apiOf(client, kind).retrieve(id));
  printOne(terminal, flags.output, KINDS[kind], item);
  return 0;
}

export async function createResource({ kind, flags, terminal }: { kind: ResourceKind; flags: CreateFlags; terminal: Terminal }): Promise<number> {
  const spec = KINDS[kind];
  let params: Record<string, unknown>;
  if (flags.file !== undefined) {
    const objects = await readObjects(flags.file);
    if (objects.length !== 1) throw new CliError(`${flags.file} holds ${objects.length} documents; create takes one (\`longhaul apply -f\` takes several)`, { exitCode: 2 });
    const { kind: documentKind, ...rest } = objects[0]!;
    if (documentKind !== undefined && documentKind !== spec.singular) throw new CliError(`${flags.file} is a ${String(documentKind)}, not a ${spec.singular}`, { exitCode: 2 });
    params = rest;
  } else {
    params = spec.paramsFromFlags(flags);
  }
  const { client, baseURL } = await connectApi({ flags });
  const item = await withApiErrors(baseURL, () => apiOf(client, kind).create(params));
  printDone(terminal, flags.output, `created ${spec.singular} ${item.id}`, item);
  return 0;
}

export async function archiveResource({ kind, id, flags, terminal }: { kind: ResourceKind; id: string; flags: ResourceFlags; terminal: Terminal }): Promise<number> {
  const { client, baseURL } = await connectApi({ flags });
  const item = await withApiErrors(baseURL, () => apiOf(client, kind).archive(id));
  printDone(terminal, flags.output, `archived ${KINDS[kind].singular} ${item.id}`, item);
  return 0;
}

/**
 * `longhaul get agent|environment <name-or-id>`: the resource as a document `apply -f`
 * takes back unchanged (YAML unless `-o json`).
 */
export async function getDocument({ kind, nameOrId, flags, terminal }: { kind: DocumentKind; nameOrId: string; flags: ResourceFlags; terminal: Terminal }): Promise<number> {
  const { client, baseURL } = await connectApi({ flags });
  const item = await withApiErrors(baseURL, async () => (await findByName(client, kind, nameOrId)) ?? apiOf(client, pluralOf(kind)).retrieve(nameOrId));
  const document = kind === 'agent' ? agentDocument(item as never) : environmentDocument(item as never);
  printStructured(terminal, flags.output === 'json' ? 'json' : 'yaml', document);
  return 0;
}

/** The one active agent or environment with this name, undefined when there is none; fails when several share it. */
export async function findByName(client: Anthropic, kind: DocumentKind, name: string): Promise<Row | undefined> {
  const found: Row[] = [];
  for await (const item of apiOf(client, pluralOf(kind)).list({ include_archived: false })) if (item['name'] === name) found.push(item);
  if (found.length > 1) throw new CliError(`${found.length} active ${kind}s are named ${JSON.stringify(name)} (${found.map((f) => f.id).join(', ')}); archive all but one, or use an id`);
  return found[0];
}

function pluralOf(kind: DocumentKind): ResourceKind {
  return kind === 'agent' ? 'agents' : 'environments';
}

function printOne(terminal: Terminal, format: OutputFormat | undefined, spec: KindSpec, item: Row): void {
  if (format === 'json' || format === 'yaml') return printStructured(terminal, format, item);
  const cells = spec.row(item);
  printTable(terminal, ['FIELD', 'VALUE'], spec.columns.map((column, i) => [column, cells[i] ?? '—']));
}

/** One line saying what was done, or the object it was done to with `-o json|yaml`. */
function printDone(terminal: Terminal, format: OutputFormat | undefined, done: string, item: Row): void {
  if (format === 'json' || format === 'yaml') printStructured(terminal, format, item);
  else terminal.line(done, 'ok');
}

function printStructured(terminal: Terminal, format: 'json' | 'yaml', value: unknown): void {
  terminal.raw(format === 'json' ? JSON.stringify(value, null, 2) : stringify(value, { lineWidth: 0 }).trimEnd());
}

