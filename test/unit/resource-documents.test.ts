import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BetaManagedAgentsAgent } from '@anthropic-ai/sdk/resources/beta/agents/agents';
import type { BetaEnvironment } from '@anthropic-ai/sdk/resources/beta/environments/environments';
import { agentSpecFromCreate, AgentCreateParams } from '../../src/schemas/api-agent.ts';
import { resolveCloudConfig } from '../../src/schemas/api-environment.ts';
import { agentDocument, agentMatches, environmentDocument, environmentMatches, metadataPatch, readResourceDocuments, type AgentDocument, type EnvironmentDocument } from '../../src/cli/resource-documents.ts';

/** The agent the server stores for a document: its own resolution of the create params. */
function storedAgent(document: AgentDocument): BetaManagedAgentsAgent {
  const { kind: _kind, ...params } = document;
  const spec = agentSpecFromCreate(AgentCreateParams.parse(params));
  const at = '2026-12-04T00:00:00Z';
  return { type: 'agent', id: 'agent_1', version: 3, created_at: at, updated_at: at, archived_at: null, ...spec } as BetaManagedAgentsAgent;
}

const sparse: AgentDocument = {
  kind: 'agent',
  name: 'reviewer',
  model: 'claude-sonnet-5-5',
  system: 'Review.',
  tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'web_search', enabled: false }] }],
  metadata: { team: 'platform' },
};

test('a sparse agent document matches what the server stores for it, and the printed document matches too', () => {
  const agent = storedAgent(sparse);
  assert.equal(agentMatches(sparse, agent), true);
  const printed = agentDocument(agent);
  assert.equal(agentMatches(printed, agent), true);
  // Printed, defaults are left out and the toolset is spelled out as stored.
  assert.equal(printed.model, 'claude-sonnet-5-5');
  assert.equal('description' in printed || 'execution_identity' in printed || 'mcp_servers' in printed, false);
  assert.deepEqual(agentDocument(storedAgent(printed)), printed);
});

test('any change of an agent document is a change: system, a tool switch, metadata, a field left out', () => {
  const agent = storedAgent(sparse);
  assert.equal(agentMatches({ ...sparse, system: 'Review harder.' }, agent), false);
  assert.equal(agentMatches({ ...sparse, tools: [{ type: 'agent_toolset_20260401' }] }, agent), false);
  assert.equal(agentMatches({ ...sparse, metadata: { team: 'infra' } }, agent), false);
  const { system: _system, ...withoutSystem } = sparse;
  assert.equal(agentMatches(withoutSystem, agent), false);
  assert.equal(agentMatches({ ...sparse, model: { id: 'claude-sonnet-5-5', speed: 'fast' } }, agent), false);
});

test('an environment document matches its stored config with defaults spelled out', () => {
  const document: EnvironmentDocument = { kind: 'environment', name: 'env', config: { type: 'cloud', networking: { type: 'limited', allowed_hosts: ['api.example.com'] } } };
  const at = '2026-12-04T00:00:00Z';
  const environment = {
    type: 'environment', id: 'env_1', name: 'env', description: null, metadata: {}, scope: 'organization', created_at: at, updated_at: at, archived_at: null,
    config: resolveCloudConfig({ type: 'cloud', networking: { type: 'limited', allowed_hosts: ['api.example.com'] } }),
  } as unknown as BetaEnvironment;
  assert.equal(environmentMatches(document, environment), true);
  assert.equal(environmentMatches(environmentDocument(environment), environment), true);
  assert.equal(environmentMatches({ ...document, config: { type: 'cloud' } }, environment), false);
  assert.equal(environmentMatches({ ...document, description: 'now described' }, environment), false);
});

test('metadataPatch sets the wanted keys and clears the rest', () => {
  assert.deepEqual(metadataPatch({ a: '1', b: '2' }, { a: '3' }), { a: '3', b: null });
  assert.deepEqual(metadataPatch({ a: '1' }, undefined), { a: null });
  assert.deepEqual(metadataPatch({}, { a: '1' }), { a: '1' });
});

test('readResourceDocuments: documents in order, empty ones skipped; a wrong kind or a missing name names the document', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'longhaul-documents-'));
  try {
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const two = await readResourceDocuments(file('two.yaml', 'kind: environment\nname: e\n---\nkind: agent\nname: a\nmodel: m\n---\n'));
    assert.deepEqual(two.map((d) => [d.kind, d.name]), [['environment', 'e'], ['agent', 'a']]);
    await assert.rejects(readResourceDocuments(file('kind.yaml', 'kind: agent\nname: a\n---\nkind: deployment\nname: d\n')), /kind\.yaml \(document 2\): kind must be one of agent, environment, not "deployment"/);
    await assert.rejects(readResourceDocuments(file('name.yaml', 'kind: agent\nmodel: m\n')), /name\.yaml \(document 1\): name is required/);
    await assert.rejects(readResourceDocuments(file('list.yaml', '- 1\n- 2\n')), /list\.yaml: document 1 is not a mapping/);
    await assert.rejects(readResourceDocuments(file('empty.yaml', '')), /empty\.yaml holds no document/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
