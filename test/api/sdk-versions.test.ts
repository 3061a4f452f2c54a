import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Newest from '@anthropic-ai/sdk';
import { VERSION as NEWEST_VERSION } from '@anthropic-ai/sdk/version';
import Oldest from 'anthropic-sdk-oldest';
import { VERSION as OLDEST_VERSION } from 'anthropic-sdk-oldest/version';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { demoAgentScript, QUICKSTART_TASK } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { QUICKSTART_TURN_EVENT_TYPES } from '../support/quickstart-events.ts';
import { API_KEY, startApiFixture } from './api-fixture.ts';

/**
 * The same calls through the oldest SDK Longhaul supports and the newest it tracks
 * (`anthropic-sdk-oldest` is an npm alias of the oldest): resources, a whole turn on the
 * stream, files, skills, a self-hosted queue and the error classes. A wire change between
 * the two shows here first.
 */
const SDKS = [
  { label: `oldest supported, ${OLDEST_VERSION}`, Sdk: Oldest as unknown as typeof Newest },
  { label: `newest, ${NEWEST_VERSION}`, Sdk: Newest },
];

let temporal: DevServer;
before(async () => {
  temporal = await startTestTemporal();
});
after(async () => {
  await temporal.stop();
});

for (const { label, Sdk } of SDKS) {
  test(`the official TypeScript SDK (${label}): resources, a streamed turn, files, skills, a work queue and errors`, async () => {
    await using f = await startApiFixture({ temporal, script: demoAgentScript });
    const client = new Sdk({ baseURL: f.api.url, apiKey: API_KEY, maxRetries: 0 });

    const agent = await client.beta.agents.create({ name: 'conformance', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' }] });
    const updated = await client.beta.agents.update(agent.id, { version: agent.version, description: 'second version' });
    assert.equal(updated.version, 2);
    assert.equal((await client.beta.agents.retrieve(agent.id, { version: 1 })).description, null);
    const environment = await client.beta.environments.create({ name: 'conformance', config: { type: 'cloud', networking: { type: 'unrestricted' } } });

    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    const stream = await client.beta.sessions.events.stream(session.id);
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: QUICKSTART_TASK }] }] });
    const seen: { id?: string; type: string }[] = [];
    for await (const event of stream) {
      seen.push(event as { id?: string; type: string });
      if (event.type === 'session.status_idle') break;
    }
    assert.deepEqual(seen.map((e) => e.type), QUICKSTART_TURN_EVENT_TYPES);
    const listed = [];
    for await (const event of client.beta.sessions.events.list(session.id, { limit: 5 })) listed.push(event.id);
    assert.deepEqual(listed, seen.map((e) => e.id));
    assert.equal((await client.beta.sessions.retrieve(session.id)).status, 'idle');

    const bytes = Buffer.from('conformance bytes\n');
    const file = await client.beta.files.upload({ file: await Sdk.toFile(bytes, 'notes.txt', { type: 'text/plain' }) });
    assert.deepEqual(Buffer.from(await (await client.beta.files.download(file.id)).arrayBuffer()), bytes);

    const skill = await client.beta.skills.create({ files: [await Sdk.toFile(Buffer.from('---\nname: conformance\ndescription: Checks the wire.\n---\nBody.\n'), 'conformance/SKILL.md')] });
    const versions = await client.beta.skills.versions.list(skill.id);
    assert.equal(versions.data.length, 1);
    assert.equal((await client.beta.skills.retrieve(skill.id)).latest_version_id, versions.data[0]!.id);

    const selfHosted = await client.beta.environments.create({ name: 'conformance-workers', config: { type: 'self_hosted' } });
    const stats = await client.beta.environments.work.stats(selfHosted.id);
    assert.deepEqual({ type: stats.type, depth: stats.depth, pending: stats.pending }, { type: 'work_queue_stats', depth: 0, pending: 0 });

    await assert.rejects(client.beta.agents.retrieve('agent_011CnotThere000000000000'), Sdk.NotFoundError);
    await assert.rejects(client.beta.agents.create({ name: '', model: 'claude-sonnet-5-5' }), Sdk.BadRequestError);
    await assert.rejects(new Sdk({ baseURL: f.api.url, apiKey: 'wrong', maxRetries: 0 }).beta.agents.list(), Sdk.AuthenticationError);
  });
}
