import { toFile } from '@anthropic-ai/sdk';
import type { ApiFixture } from './api-fixture.ts';

const MODEL = 'claude-sonnet-5-5';

/** Ids by the name of the path parameter that takes them. */
export type PathIds = Record<string, string>;

/**
 * One of each resource, by the name of the path parameter that holds its id, so generated
 * requests reach past the 404 of an unknown id into the code behind it (a session's events,
 * a file's content, a vault's credentials, a store's memories and versions, a deployment's
 * runs, a dream). Operations that delete or archive them run too; what follows them then
 * meets a 404 or a 409, which the document declares.
 *
 * `streams` are the ids for the event streams: an archived session (and its primary thread),
 * whose stream closes at once. A live session's stream stays open until the client leaves,
 * which would make every generated request wait out its timeout.
 */
export async function fuzzResources(f: ApiFixture): Promise<{ ids: PathIds; streams: PathIds }> {
  const { client } = f;
  const agent = await client.beta.agents.create({ name: 'fuzzed', model: MODEL });
  const environment = await client.beta.environments.create({ name: 'fuzzed' });
  const memoryStore = await client.beta.memoryStores.create({ name: 'fuzzed' });
  const memory = await client.beta.memoryStores.memories.create(memoryStore.id, { path: '/fuzz.md', content: 'fuzz' });
  const memoryVersion = (await client.beta.memoryStores.memoryVersions.list(memoryStore.id)).data[0];
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  const thread = (await client.beta.sessions.threads.list(session.id)).data[0];
  const file = await client.beta.files.upload({ file: await toFile(Buffer.from('fuzz\n'), 'fuzz.txt') });
  const resource = await client.beta.sessions.resources.add(session.id, { type: 'file', file_id: file.id });
  const vault = await client.beta.vaults.create({ display_name: 'fuzzed' });
  const skill = await client.beta.skills.create({ files: await fuzzSkillFiles() });
  const credential = await client.beta.vaults.credentials.create(vault.id, { auth: { type: 'static_bearer', token: 'fuzz-token', mcp_server_url: 'https://mcp.example.com/mcp' } });
  const deployment = await client.beta.deployments.create({ name: 'fuzzed', agent: agent.id, environment_id: environment.id, initial_events: [{ type: 'user.message', content: [{ type: 'text', text: 'tick' }] }] });
  const deploymentRun = await client.beta.deployments.run(deployment.id);
  // It runs a short session of its own, as every dream does.
  const dream = await client.beta.dreams.create({ inputs: [{ type: 'memory_store', memory_store_id: memoryStore.id }, { type: 'sessions', session_ids: [session.id] }], model: MODEL });
  // An event type Longhaul never sends: nothing is delivered to a host that is not there.
  const endpoint = await client.post<{ id: string }>('/v1/webhook_endpoints', { body: { url: 'https://hooks.example.com/fuzz', event_types: ['user_profile.program_status_updated'] } });
  const ended = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  await client.beta.sessions.archive(ended.id);
  const endedThread = (await client.beta.sessions.threads.list(ended.id)).data[0];
  if (!memoryVersion || !thread || !endedThread) throw new Error('fuzz resources: the memory has no version or a session no primary thread');
  return {
    ids: {
      agent_id: agent.id,
      environment_id: environment.id,
      session_id: session.id,
      thread_id: thread.id,
      file_id: file.id,
      resource_id: resource.id,
      vault_id: vault.id,
      credential_id: credential.id,
      memory_store_id: memoryStore.id,
      memory_id: memory.id,
      memory_version_id: memoryVersion.id,
      deployment_id: deployment.id,
      deployment_run_id: deploymentRun.id,
      dream_id: dream.id,
      webhook_endpoint_id: endpoint.id,
      skill_id: skill.id,
      version: skill.latest_version_id,
    },
    streams: { session_id: ended.id, thread_id: endedThread.id },
  };
}

/** What generated bodies may name in the stateful run, by dictionary name. */
export type StatefulSeeds = { agents: string[]; environments: string[]; memory_stores: string[]; sessions: string[]; files: string[]; vaults: string[] };

/**
 * What the stateful run needs and no single link can give: a session or a deployment takes an
 * agent and an environment at once, a dream a store and a session, and a file resource or a
 * vault named in a body is another object again. Generated bodies take them from these (the
 * run's config binds the fields to them); links carry everything else. One dream over them
 * is there too: `POST /v1/dreams` links from a dream make more like it.
 */
export async function statefulSeeds(f: ApiFixture): Promise<StatefulSeeds> {
  const { client } = f;
  const agent = await client.beta.agents.create({ name: 'seed', model: MODEL });
  const environment = await client.beta.environments.create({ name: 'seed' });
  const memoryStore = await client.beta.memoryStores.create({ name: 'seed' });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  const file = await client.beta.files.upload({ file: await toFile(Buffer.from('seed\n'), 'seed.txt') });
  const vault = await client.beta.vaults.create({ display_name: 'seed' });
  // Found by the skills list, whose first item links on to its versions and their download.
  await client.beta.skills.create({ files: await fuzzSkillFiles() });
  await client.beta.dreams.create({ inputs: [{ type: 'memory_store', memory_store_id: memoryStore.id }, { type: 'sessions', session_ids: [session.id] }], model: MODEL });
  return { agents: [agent.id], environments: [environment.id], memory_stores: [memoryStore.id], sessions: [session.id], files: [file.id], vaults: [vault.id] };
}

/** A small skill: its folder with SKILL.md and a script. */
async function fuzzSkillFiles() {
  return [await toFile(Buffer.from('---\nname: fuzzed\ndescription: A skill for the fuzz run.\n---\nRun run.sh.\n'), 'fuzzed/SKILL.md'), await toFile(Buffer.from('#!/bin/sh\necho fuzz\n'), 'fuzzed/run.sh')];
}
