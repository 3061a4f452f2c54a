/**
 * `longhaul apply -f file.yaml`: definitions kept in git, made so on the server. Each
 * document is found by name among the active resources of its kind; missing, it is
 * created; different, it is updated (an agent gets one new version, guarded by the version
 * it was compared with); the same, it is left alone. Applying twice changes nothing.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { BetaManagedAgentsAgent } from '@anthropic-ai/sdk/resources/beta/agents/agents';
import type { BetaEnvironment } from '@anthropic-ai/sdk/resources/beta/environments/environments';
import { connectApi, type ApiConnectionFlags } from './api-connection.ts';
import type { Terminal } from './output.ts';
import { findByName } from './resource-commands.ts';
import {
  agentMatches,
  environmentMatches,
  metadataPatch,
  paramsOf,
  readResourceDocuments,
  type AgentDocument,
  type EnvironmentDocument,
  type ResourceDocument,
} from './resource-documents.ts';
import { withApiErrors } from './run-command.ts';

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

export async function runApply({ file, flags, terminal }: { file: string; flags: ApiConnectionFlags; terminal: Terminal }): Promise<number> {
  // Every document is read and checked before the first request: a bad one later in the file changes nothing.
  const documents = await readResourceDocuments(file);
  const { client, baseURL } = await connectApi({ flags });
  for (const document of documents) {
    const { outcome, id, version } = await withApiErrors(baseURL, () => applyDocument(client, document));
    const what = `${document.kind} ${JSON.stringify(document.name)} (${id}${version === undefined ? '' : ` v${version}`})`;
    terminal.line(`${what} ${outcome}`, outcome === 'unchanged' ? 'dim' : 'ok');
  }
  return 0;
}

async function applyDocument(client: Anthropic, document: ResourceDocument): Promise<{ outcome: ApplyOutcome; id: string; version?: number }> {
  const existing = await findByName(client, document.kind, document.name);
  return document.kind === 'agent'
    ? applyAgent(client, document, existing as BetaManagedAgentsAgent | undefined)
    : applyEnvironment(client, document, existing as BetaEnvironment | undefined);
}

async function applyAgent(client: Anthropic, document: AgentDocument, existing: BetaManagedAgentsAgent | undefined): Promise<{ outcome: ApplyOutcome; id: string; version: number }> {
  if (existing === undefined) {
    const created = await client.beta.agents.create(paramsOf(document));
    return { outcome: 'created', id: created.id, version: created.version };
  }
  if (agentMatches(document, existing)) return { outcome: 'unchanged', id: existing.id, version: existing.version };
  // The whole definition, with what the file leaves out cleared: update keeps omitted fields.
  const updated = await client.beta.agents.update(existing.id, {
    name: document.name,
    model: document.model,
    description: document.description ?? null,
    system: document.system ?? null,
    tools: document.tools ?? [],
    mcp_servers: document.mcp_servers ?? [],
    skills: document.skills ?? [],
    multiagent: document.multiagent ?? null,
    execution_identity: document.execution_identity ?? null,
    metadata: metadataPatch(existing.metadata, document.metadata),
    version: existing.version,
  });
  // The server writes no version for a no-op; a definition this side could not compare lands here.
  return { outcome: updated.version === existing.version ? 'unchanged' : 'updated', id: updated.id, version: updated.version };
}

async function applyEnvironment(client: Anthropic, document: EnvironmentDocument, existing: BetaEnvironment | undefined): Promise<{ outcome: ApplyOutcome; id: string }> {
  if (existing === undefined) return { outcome: 'created', id: (await client.beta.environments.create(paramsOf(document))).id };
  if (environmentMatches(document, existing)) return { outcome: 'unchanged', id: existing.id };
  await client.beta.environments.update(existing.id, {
    name: document.name,
    description: document.description ?? null,
    // A config left out is the default one; update keeps the stored config for a null.
    config: document.config ?? { type: 'cloud', networking: { type: 'limited' }, packages: { type: 'packages' } },
    metadata: metadataPatch(existing.metadata, document.metadata),
  });
  return { outcome: 'updated', id: existing.id };
}
