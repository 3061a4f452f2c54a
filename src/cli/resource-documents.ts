/**
 * Resource definitions as files: `{kind: agent|environment, name, …create params}`
 * documents (YAML or JSON, several per file with `---`), read for `apply` and `create -f`,
 * and written by `longhaul get` so that applying them back changes nothing.
 */
import { readFile } from 'node:fs/promises';
import type { BetaManagedAgentsAgent, AgentCreateParams } from '@anthropic-ai/sdk/resources/beta/agents/agents';
import type { BetaEnvironment, EnvironmentCreateParams } from '@anthropic-ai/sdk/resources/beta/environments/environments';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { resolveModel, resolveTools, type ModelParam, type ToolParams } from '../schemas/api-agent.ts';
import { resolveCloudConfig, type CloudConfigParams } from '../schemas/api-environment.ts';
import { CliError } from './cli-error.ts';

export const DOCUMENT_KINDS = ['agent', 'environment'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

export type AgentDocument = { kind: 'agent' } & AgentCreateParams;
export type EnvironmentDocument = { kind: 'environment' } & EnvironmentCreateParams;
export type ResourceDocument = AgentDocument | EnvironmentDocument;

/** The objects of a YAML or JSON file, one per `---` document; fails naming the file and line. */
export async function readObjects(path: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${(error as Error).message}`, { exitCode: 2, cause: error });
  }
  const objects: Record<string, unknown>[] = [];
  for (const [index, document] of parseAllDocuments(text).entries()) {
    const [problem] = document.errors;
    if (problem) throw new CliError(`${path} is not valid YAML (document ${index + 1}): ${problem.message.split('\n')[0]!.replace(/:$/, '')}`, { exitCode: 2 });
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue; // an empty document, as after a trailing `---`
    if (typeof value !== 'object' || Array.isArray(value)) throw new CliError(`${path}: document ${index + 1} is not a mapping of fields`, { exitCode: 2 });
    objects.push(value as Record<string, unknown>);
  }
  if (objects.length === 0) throw new CliError(`${path} holds no document`, { exitCode: 2 });
  return objects;
}

/** The resource documents of a file, each checked for a known `kind` and a `name`. */
export async function readResourceDocuments(path: string): Promise<ResourceDocument[]> {
  return (await readObjects(path)).map((object, index) => {
    const where = `${path} (document ${index + 1})`;
    if (!DOCUMENT_KINDS.includes(object['kind'] as DocumentKind)) {
      throw new CliError(`${where}: kind must be one of ${DOCUMENT_KINDS.join(', ')}, not ${JSON.stringify(object['kind'] ?? null)}`, { exitCode: 2 });
    }
    if (typeof object['name'] !== 'string' || object['name'] === '') throw new CliError(`${where}: name is required (apply finds the resource by its name)`, { exitCode: 2 });
    return object as unknown as ResourceDocument;
  });
}

/** Create params without the document's `kind`. */
export function paramsOf<D extends ResourceDocument>(document: D): Omit<D, 'kind'> {
  const { kind: _kind, ...params } = document;
  return params;
}

/**
 * An agent as a document: its create params, defaults left out, so `apply` of it is
 * "unchanged". Rosters are shown as their pinned versions.
 */
export function agentDocument(agent: BetaManagedAgentsAgent): AgentDocument {
  const { id, speed, ...rest } = agent.model;
  const model = speed === 'fast' || Object.keys(rest).length > 0 ? agent.model : id;
  return {
    kind: 'agent',
    name: agent.name,
    ...(agent.description ? { description: agent.description } : {}),
    model: model as AgentCreateParams['model'],
    ...(agent.system ? { system: agent.system } : {}),
    ...(agent.tools.length > 0 ? { tools: agent.tools as NonNullable<AgentCreateParams['tools']> } : {}),
    ...(agent.mcp_servers.length > 0 ? { mcp_servers: agent.mcp_servers } : {}),
    ...(agent.skills.length > 0 ? { skills: agent.skills.map(({ type, skill_id, version }) => (version === 'latest' ? { type, skill_id } : { type, skill_id, version })) } : {}),
    ...(agent.multiagent ? { multiagent: agent.multiagent as NonNullable<AgentCreateParams['multiagent']> } : {}),
    ...(Object.keys(agent.metadata).length > 0 ? { metadata: agent.metadata } : {}),
    ...(agent.execution_identity.type !== 'service_account' ? { execution_identity: agent.execution_identity } : {}),
  };
}

export function environmentDocument(environment: BetaEnvironment): EnvironmentDocument {
  return {
    kind: 'environment',
    name: environment.name,
    ...(environment.description ? { description: environment.description } : {}),
    config: environment.config as NonNullable<EnvironmentCreateParams['config']>,
    ...(Object.keys(environment.metadata).length > 0 ? { metadata: environment.metadata } : {}),
  };
}

/**
 * The agent a document describes, with every default spelled out as the server stores it,
 * side by side with the existing agent's: equal means applying changes nothing.
 */
export function agentMatches(document: AgentDocument, agent: BetaManagedAgentsAgent): boolean {
  const stored = comparableAgent(agentDocument(agent));
  try {
    return isDeepStrictEqual(comparableAgent(document), stored);
  } catch {
    // A definition the server's rules cannot read: let the server say what is wrong with it.
    return false;
  }
}

function comparableAgent(document: AgentDocument): unknown {
  return json({
    name: document.name,
    description: document.description || null,
    system: document.system || null,
    model: resolveModel(document.model as ModelParam),
    tools: resolveTools(document.tools as ToolParams[] | undefined),
    mcp_servers: document.mcp_servers ?? [],
    skills: (document.skills ?? []).map((s) => ({ type: s.type, skill_id: s.skill_id, version: s.version ?? 'latest' })),
    multiagent: document.multiagent ?? null,
    metadata: document.metadata ?? {},
    execution_identity: document.execution_identity ?? { type: 'service_account' },
  });
}

export function environmentMatches(document: EnvironmentDocument, environment: BetaEnvironment): boolean {
  return isDeepStrictEqual(comparableEnvironment(document), comparableEnvironment(environmentDocument(environment)));
}

function comparableEnvironment(document: EnvironmentDocument): unknown {
  return json({
    name: document.name,
    description: document.description || null,
    config: document.config?.type === 'self_hosted' ? { type: 'self_hosted' } : resolveCloudConfig(document.config as CloudConfigParams | null | undefined),
    metadata: document.metadata ?? {},
  });
}

/**
 * A metadata patch that makes `current` equal `wanted`: every wanted key, and `null` for
 * each key to remove (update treats metadata as a patch).
 */
export function metadataPatch(current: Record<string, string>, wanted: Record<string, string> | undefined): Record<string, string | null> {
  const patch: Record<string, string | null> = { ...wanted };
  for (const key of Object.keys(current)) if (!(wanted && key in wanted)) patch[key] = null;
  return patch;
}

/** As JSON would carry it: key order and `undefined` members do not count. */
function json(value: unknown): unknown {
  return sortKeys(JSON.parse(JSON.stringify(value)));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)]));
}
