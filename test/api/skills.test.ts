/**
 * Skills over HTTP with the official SDK, on the real stack (Temporal, store, Docker
 * sandboxes, scripted model): uploads and their checks, versions, the zip download, agents
 * that name skills, and sessions whose agent reads a skill and runs its script in the
 * sandbox, where the skill is mounted read-only at /mnt/skills/<name>.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import Anthropic, { BadRequestError, NotFoundError, toFile } from '@anthropic-ai/sdk';
import type { Uploadable } from '@anthropic-ai/sdk/core/uploads';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { DELEGATE_TOOL } from '../../src/core/delegation.ts';
import { lastToolResults, text, toolUse, type ScriptedRequest } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { eventually } from '../support/eventually.ts';
import { stepsScript } from '../support/steps-script.ts';
import { startApiFixture, type ApiFixture } from './api-fixture.ts';

const run = promisify(execFile);
const MODEL = 'claude-sonnet-5-5';
const LIMITS = { fileBytes: 64 * 1024, totalBytes: 96 * 1024, files: 8, pathBytes: 128 };

let temporal: DevServer;
let f: ApiFixture;
let client: Anthropic;

before(async () => {
  temporal = await startTestTemporal();
  f = await startApiFixture({ temporal, script: stepsScript, skillUploadLimits: LIMITS });
  ({ client } = f);
});

after(async () => {
  await f?.[Symbol.asyncDispose]();
  await temporal?.stop();
});

/** A skill's files as the SDK uploads them: each part named with its path. */
function skillFiles(files: Record<string, string | Buffer>): Promise<Uploadable[]> {
  return Promise.all(Object.entries(files).map(([path, content]) => toFile(Buffer.from(content), path)));
}

/** The report-tool skill: instructions, a script that says which version it is, and binary data. */
function reportTool(version: string, blob: Buffer) {
  return {
    'report-tool/SKILL.md': `---\nname: report-tool\ndescription: Writes one-line reports. Use it whenever a report is asked for.\n---\n# Report tool\nRun scripts/report.sh with the subject; it prints the report. (${version})\n`,
    'report-tool/scripts/report.sh': `#!/bin/bash\necho "report ${version}: $1"\n`,
    'report-tool/data/blob.bin': blob,
  };
}

/** The members of a zip archive, by name, read by Python's zipfile (not by what wrote them). */
async function unzip(archive: Buffer): Promise<Record<string, Buffer>> {
  const script = 'import base64, io, json, sys, zipfile\nz = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read()))\nassert z.testzip() is None\nprint(json.dumps({i.filename: base64.b64encode(z.read(i)).decode() for i in z.infolist()}))';
  const child = run('python3', ['-c', script], { maxBuffer: 64 * 1024 * 1024 });
  child.child.stdin!.end(archive);
  const members = JSON.parse((await child).stdout) as Record<string, string>;
  return Object.fromEntries(Object.entries(members).map(([name, base64]) => [name, Buffer.from(base64, 'base64')]));
}

async function listEvents(sessionId: string) {
  const events = [];
  for await (const event of client.beta.sessions.events.list(sessionId, { limit: 1000 })) events.push(event);
  return events;
}

/** Sends `steps: …` to the session and waits for the turn's idle; returns the texts of that turn's tool results. */
async function runSteps(sessionId: string, commands: string[]): Promise<{ results: { text: string; isError: boolean }[] }> {
  const before = (await listEvents(sessionId)).filter((e) => e.type === 'session.status_idle').length;
  await client.beta.sessions.events.send(sessionId, { events: [{ type: 'user.message', content: [{ type: 'text', text: `steps: ${commands.join(' ;; ')}` }] }] });
  const events = await eventually(`turn ${before + 1} of ${sessionId} to end`, async () => {
    const all = await listEvents(sessionId);
    return all.filter((e) => e.type === 'session.status_idle').length > before && all;
  }, { timeoutMs: 120_000, everyMs: 200 });
  const turn = events.slice(events.findLastIndex((e) => e.type === 'user.message'));
  const results = turn.flatMap((e) => (e.type === 'agent.tool_result' ? [{ text: (e.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join(''), isError: e.is_error === true }] : []));
  return { results };
}

/** The message of the error envelope `call` was answered with, checking its class (by status). */
async function refusal(call: Promise<unknown>, status: typeof BadRequestError | typeof NotFoundError = BadRequestError): Promise<string> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof status, `expected ${status.name}, got ${String(error)}`);
  const message = (error.error as { error?: { message?: unknown } } | undefined)?.error?.message;
  assert.equal(typeof message, 'string', String(error));
  return message as string;
}

test('skills: upload with a script, retrieve, list, a new version, download the same bytes', async () => {
  const blob = randomBytes(2000);
  const skill = await client.beta.skills.create({ files: await skillFiles(reportTool('v1', blob)), display_name: 'Report tool' });
  assert.match(skill.id, /^skill_011C/);
  assert.deepEqual({ type: skill.type, display_name: skill.display_name, source: skill.source }, { type: 'skill', display_name: 'Report tool', source: { type: 'custom' } });
  assert.deepEqual(await client.beta.skills.retrieve(skill.id), skill);

  const first = await client.beta.skills.versions.retrieve('latest', { skill_id: skill.id });
  assert.deepEqual(first, {
    type: 'skill_version',
    id: skill.latest_version_id,
    skill_id: skill.id,
    name: 'report-tool',
    description: 'Writes one-line reports. Use it whenever a report is asked for.',
    created_at: skill.created_at,
  });
  assert.deepEqual(await client.beta.skills.versions.retrieve(first.id, { skill_id: skill.id }), first);

  // Without display_name it is the front matter's name; without a name there, the folder's.
  const unnamed = await client.beta.skills.create({ files: await skillFiles({ 'folder-named/SKILL.md': '---\ndescription: Named by its folder.\n---\n' }) });
  assert.equal(unnamed.display_name, 'folder-named');
  assert.equal((await client.beta.skills.versions.retrieve('latest', { skill_id: unnamed.id })).name, 'folder-named');

  const listed = [];
  for await (const s of client.beta.skills.list({ limit: 1 })) listed.push(s.id);
  assert.deepEqual(listed.slice(0, 2), [unnamed.id, skill.id], 'newest first, page by page');
  assert.ok((await client.beta.skills.list({ source: 'custom' })).data.some((s) => s.id === skill.id));
  assert.deepEqual((await client.beta.skills.list({ source: 'anthropic' })).data, []);

  const second = await client.beta.skills.versions.create(skill.id, { files: await skillFiles(reportTool('v2', blob)) });
  assert.equal(second.name, 'report-tool');
  assert.notEqual(second.id, first.id);
  assert.equal((await client.beta.skills.retrieve(skill.id)).latest_version_id, second.id);
  const versions = [];
  for await (const v of client.beta.skills.versions.list(skill.id, { limit: 1 })) versions.push(v.id);
  assert.deepEqual(versions, [second.id, first.id]);

  // The archive holds every file under the skill's folder, byte for byte as uploaded.
  for (const [version, label] of [[first.id, 'v1'], ['latest', 'v2']] as const) {
    const response = await client.beta.skills.versions.download(version, { skill_id: skill.id });
    assert.equal(response.headers.get('content-type'), 'application/zip');
    assert.match(response.headers.get('content-disposition') ?? '', /^attachment; filename="report-tool\.zip"/);
    assert.deepEqual(await unzip(Buffer.from(await response.arrayBuffer())), Object.fromEntries(Object.entries(reportTool(label, blob)).map(([path, content]) => [path, Buffer.from(content)])));
  }
});

test('skills: bad uploads are 400s naming the problem, and make no skill', async () => {
  const before = (await client.beta.skills.list({ limit: 100 })).data.length;
  const skillMd = '---\nname: ok-skill\ndescription: Fine.\n---\n';
  const cases: [Record<string, string | Buffer>, RegExp][] = [
    [{ 'ok-skill/README.md': 'no SKILL.md' }, /files: ok-skill\/SKILL\.md is missing/],
    [{ 'ok-skill/SKILL.md': skillMd, 'other/x.txt': 'x' }, /one top-level folder, but "other\/x\.txt" is not in "ok-skill"/],
    [{ 'ok-skill/SKILL.md': skillMd, 'ok-skill/../../etc/passwd': 'x' }, /"\.\." part/],
    [{ '/etc/ok-skill/SKILL.md': skillMd }, /is absolute/],
    [{ 'SKILL.md': skillMd }, /not in a folder/],
    [{ 'ok-skill/big.bin': Buffer.alloc(LIMITS.fileBytes + 1), 'ok-skill/SKILL.md': skillMd }, new RegExp(`ok-skill/big\\.bin is larger than ${LIMITS.fileBytes} bytes`)],
    [{ 'ok-skill/SKILL.md': skillMd, 'ok-skill/a.bin': Buffer.alloc(LIMITS.fileBytes), 'ok-skill/b.bin': Buffer.alloc(LIMITS.fileBytes) }, new RegExp(`together are larger than ${LIMITS.totalBytes} bytes`)],
    [Object.fromEntries([['ok-skill/SKILL.md', skillMd], ...Array.from({ length: LIMITS.files }, (_, i) => [`ok-skill/f${i}`, 'x'])]), new RegExp(`more than ${LIMITS.files} files`)],
    [{ 'ok-skill/SKILL.md': '# no front matter' }, /SKILL\.md must start with YAML front matter/],
    [{ 'ok-skill/SKILL.md': '---\nname: ok-skill\n---\n' }, /front matter of ok-skill\/SKILL\.md has no description/],
    [{ 'ok-skill/SKILL.md': '---\nname: Not Kebab\ndescription: d\n---\n' }, /kebab-case/],
  ];
  for (const [files, problem] of cases) {
    assert.match(await refusal(client.beta.skills.create({ files: await skillFiles(files) })), problem, Object.keys(files).join(', '));
  }
  // A path sent twice (the SDK keeps duplicates as they are).
  const twice = [await toFile(Buffer.from(skillMd), 'ok-skill/SKILL.md'), await toFile(Buffer.from('again'), 'ok-skill/SKILL.md')];
  assert.match(await refusal(client.beta.skills.create({ files: twice })), /"ok-skill\/SKILL\.md" is sent twice/);
  assert.match(await refusal(client.beta.skills.create({ files: [] })), /files: send the skill as `files\[\]` parts/);
  assert.match(await refusal(client.beta.skills.create({ files: await skillFiles({ 'ok-skill/SKILL.md': skillMd }), display_name: 'two\nlines' })), /display_name: must be a single line/);
  assert.match(await refusal(client.post('/v1/skills', { body: { files: ['ok-skill/SKILL.md'] } })), /send multipart\/form-data/);
  assert.equal((await client.beta.skills.list({ limit: 100 })).data.length, before, 'no refused upload made a skill');

  // A version must keep the skill's name.
  const skill = await client.beta.skills.create({ files: await skillFiles({ 'ok-skill/SKILL.md': skillMd }) });
  assert.match(await refusal(client.beta.skills.versions.create(skill.id, { files: await skillFiles({ 'renamed/SKILL.md': '---\nname: renamed\ndescription: d\n---\n' }) })), /the skill is named "ok-skill", and every version must be/);
  assert.match(await refusal(client.beta.skills.versions.create('skill_nope', { files: await skillFiles({ 'ok-skill/SKILL.md': skillMd }) }), NotFoundError), /skill skill_nope not found/);
  assert.equal((await client.beta.skills.versions.list(skill.id)).data.length, 1);
});

test('agents name skills: custom ones that exist, anthropic ones only when uploaded; each problem names the field', async () => {
  const skill = await client.beta.skills.create({ files: await skillFiles({ 'named-skill/SKILL.md': '---\nname: named-skill\ndescription: d\n---\n' }) });
  // An `anthropic` skill is served when a skill with its id was uploaded here.
  const uploaded = await client.beta.skills.create({ files: await skillFiles({ 'xlsx/SKILL.md': '---\ndescription: Spreadsheets.\n---\n' }) });
  const agent = await client.beta.agents.create({ name: 'with skills', model: MODEL, skills: [{ type: 'custom', skill_id: skill.id }, { type: 'anthropic', skill_id: uploaded.id, version: uploaded.latest_version_id }] });
  assert.deepEqual(agent.skills, [
    { type: 'custom', skill_id: skill.id, version: 'latest' },
    { type: 'anthropic', skill_id: uploaded.id, version: uploaded.latest_version_id },
  ]);
  assert.deepEqual((await client.beta.agents.retrieve(agent.id)).skills, agent.skills);

  assert.match(await refusal(client.beta.agents.create({ name: 'x', model: MODEL, skills: [{ type: 'custom', skill_id: 'skill_missing' }] })), /skills\.0\.skill_id: skill skill_missing not found/);
  assert.match(await refusal(client.beta.agents.create({ name: 'x', model: MODEL, skills: [{ type: 'anthropic', skill_id: 'xlsx' }] })), /skills\.0\.skill_id: Anthropic's skill "xlsx" is not on this server/);
  assert.match(await refusal(client.beta.agents.create({ name: 'x', model: MODEL, skills: [{ type: 'custom', skill_id: skill.id, version: 'skillver_nope' }] })), /skills\.0\.version: skill .* has no version skillver_nope/);
  assert.match(await refusal(client.beta.agents.update(agent.id, { version: agent.version, skills: [{ type: 'custom', skill_id: skill.id }, { type: 'custom', skill_id: skill.id }] })), /skills: each skill may be listed once/);
  const cleared = await client.beta.agents.update(agent.id, { version: agent.version, skills: [] });
  assert.deepEqual(cleared.skills, []);
});

test('a session mounts its agent’s skills read-only, names them in the prompt, and runs their scripts; a new version reaches new sessions only', async () => {
  const blob = randomBytes(100);
  const skill = await client.beta.skills.create({ files: await skillFiles(reportTool('v1', blob)) });
  const agent = await client.beta.agents.create({ name: 'reporter', model: MODEL, tools: [{ type: 'agent_toolset_20260401' }], skills: [{ type: 'custom', skill_id: skill.id }] });
  const environment = await client.beta.environments.create({ name: 'skills-env' });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  assert.deepEqual(session.agent.skills, [{ type: 'custom', skill_id: skill.id, version: skill.latest_version_id }], 'latest is pinned at creation');

  const calls = f.harness.model.calls.length;
  const { results } = await runSteps(session.id, [
    'cd /mnt/skills && find . | sort',
    'cat /mnt/skills/report-tool/SKILL.md',
    '/mnt/skills/report-tool/scripts/report.sh sales',
    'touch /mnt/skills/report-tool/new 2>&1; echo x >> /mnt/skills/report-tool/SKILL.md 2>&1; id -u; stat -c %U:%a /mnt/skills/report-tool/SKILL.md /mnt/skills/report-tool/scripts/report.sh',
  ]);
  assert.deepEqual(results.map((r) => r.isError), [false, false, false, false], JSON.stringify(results));
  assert.deepEqual(results[0]!.text.trim().split('\n'), ['.', './report-tool', './report-tool/SKILL.md', './report-tool/data', './report-tool/data/blob.bin', './report-tool/scripts', './report-tool/scripts/report.sh']);
  assert.match(results[1]!.text, /^---\nname: report-tool\n[\s\S]*Run scripts\/report\.sh with the subject; it prints the report\. \(v1\)/);
  assert.equal(results[2]!.text.trim(), 'report v1: sales');
  assert.match(results[3]!.text, /cannot touch '\/mnt\/skills\/report-tool\/new': Read-only file system\n.*SKILL\.md: (Permission denied|Read-only file system)\n/);
  assert.match(results[3]!.text, /^1000$/m, 'the agent is not root');
  assert.match(results[3]!.text, /root:644\nroot:755/, 'root owns the files; a script (#!) is executable');

  // The prompt lists the skill with its folder and description; its instructions stay in SKILL.md.
  const system = JSON.stringify(f.harness.model.calls[calls]?.body.system);
  assert.match(system, /report-tool \(\/mnt\/skills\/report-tool\/SKILL\.md\): Writes one-line reports\. Use it whenever a report is asked for\./);
  assert.doesNotMatch(system, /Run scripts\/report\.sh/);

  // A second version: new sessions get it; the running one keeps what it pinned.
  const v2 = await client.beta.skills.versions.create(skill.id, { files: await skillFiles(reportTool('v2', blob)) });
  const newer = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  assert.deepEqual(newer.agent.skills, [{ type: 'custom', skill_id: skill.id, version: v2.id }]);
  assert.equal((await runSteps(newer.id, ['/mnt/skills/report-tool/scripts/report.sh q3'])).results[0]?.text.trim(), 'report v2: q3');
  assert.equal((await runSteps(session.id, ['/mnt/skills/report-tool/scripts/report.sh q3'])).results[0]?.text.trim(), 'report v1: q3');
  assert.deepEqual((await client.beta.sessions.retrieve(session.id)).agent.skills, [{ type: 'custom', skill_id: skill.id, version: skill.latest_version_id }]);

  // An override pins an older version for one session, and two skills of one name get two folders.
  const other = await client.beta.skills.create({ files: await skillFiles({ 'report-tool/SKILL.md': '---\nname: report-tool\ndescription: Another tool of the same name.\n---\n' }) });
  const overridden = await client.beta.sessions.create({
    agent: { type: 'agent_with_overrides', id: agent.id, skills: [{ type: 'custom', skill_id: skill.id, version: skill.latest_version_id }, { type: 'custom', skill_id: other.id }] },
    environment_id: environment.id,
  });
  assert.deepEqual(overridden.agent.skills.map((s) => s.version), [skill.latest_version_id, other.latest_version_id]);
  const { results: there } = await runSteps(overridden.id, ['ls /mnt/skills', '/mnt/skills/report-tool/scripts/report.sh old', 'grep description /mnt/skills/report-tool-2/SKILL.md']);
  assert.deepEqual(there.map((r) => r.text.trim()), ['report-tool\nreport-tool-2', 'report v1: old', 'description: Another tool of the same name.']);
});

test('deleting: a version (the newest left becomes the latest; the last is refused), then the skill; sessions that mounted it keep their copy', async () => {
  const blob = randomBytes(10);
  const skill = await client.beta.skills.create({ files: await skillFiles(reportTool('v1', blob)) });
  const v2 = await client.beta.skills.versions.create(skill.id, { files: await skillFiles(reportTool('v2', blob)) });
  const agent = await client.beta.agents.create({ name: 'deleter', model: MODEL, tools: [{ type: 'agent_toolset_20260401' }], skills: [{ type: 'custom', skill_id: skill.id }] });
  const environment = await client.beta.environments.create({ name: 'skills-delete-env' });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  assert.equal((await runSteps(session.id, ['/mnt/skills/report-tool/scripts/report.sh before'])).results[0]?.text.trim(), 'report v2: before');

  assert.deepEqual(await client.beta.skills.versions.delete('latest', { skill_id: skill.id }), { id: v2.id, type: 'skill_version_deleted' });
  assert.equal((await client.beta.skills.retrieve(skill.id)).latest_version_id, skill.latest_version_id);
  assert.match(await refusal(client.beta.skills.versions.retrieve(v2.id, { skill_id: skill.id }), NotFoundError), new RegExp(`has no version ${v2.id}`));
  assert.match(await refusal(client.beta.skills.versions.download(v2.id, { skill_id: skill.id }), NotFoundError), /has no version/);
  assert.match(await refusal(client.beta.skills.versions.delete(skill.latest_version_id, { skill_id: skill.id })), /is the only version of skill .*; a skill keeps at least one/);

  assert.deepEqual(await client.beta.skills.delete(skill.id), { id: skill.id, type: 'skill_deleted' });
  for (const call of [() => client.beta.skills.retrieve(skill.id), () => client.beta.skills.delete(skill.id), () => client.beta.skills.versions.list(skill.id)]) {
    assert.match(await refusal(call(), NotFoundError), new RegExp(`skill ${skill.id} not found`));
  }
  // The agent still names it: a new session of it is refused, naming the field.
  assert.match(await refusal(client.beta.sessions.create({ agent: agent.id, environment_id: environment.id }), NotFoundError), /agent\.skills\.0: skill .* not found/);
  // The session that mounted v2 keeps it: its copy is on the session's disk.
  assert.equal((await runSteps(session.id, ['/mnt/skills/report-tool/scripts/report.sh after'])).results[0]?.text.trim(), 'report v2: after');
});

test('a pinned version deleted before the session placed it: a session.error says so, and the session goes on without it', async () => {
  const skill = await client.beta.skills.create({ files: await skillFiles({ 'short-lived/SKILL.md': '---\ndescription: Gone soon.\n---\n' }) });
  const keep = await client.beta.skills.versions.create(skill.id, { files: await skillFiles({ 'short-lived/SKILL.md': '---\ndescription: Stays.\n---\n' }) });
  const agent = await client.beta.agents.create({ name: 'early', model: MODEL, tools: [{ type: 'agent_toolset_20260401' }], skills: [{ type: 'custom', skill_id: skill.id, version: skill.latest_version_id }] });
  const environment = await client.beta.environments.create({ name: 'skills-gone-env' });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  // The skill lives on in its newer version; the pinned one is gone.
  assert.equal((await client.beta.skills.versions.delete(skill.latest_version_id, { skill_id: skill.id })).id, skill.latest_version_id);
  assert.equal((await client.beta.skills.retrieve(skill.id)).latest_version_id, keep.id);
  const { results } = await runSteps(session.id, ['ls -A /mnt/skills | wc -l']);
  assert.equal(results[0]?.text.trim(), '0');
  const error = (await listEvents(session.id)).find((e) => e.type === 'session.error');
  assert.match(JSON.stringify(error), /the skill short-lived .* was deleted before it could be placed at \/mnt\/skills\/short-lived: the session goes on without it/);
});

test('a specialist thread sees its own agent’s skills in its prompt and runs them in the session’s sandbox, where every agent’s skills are', async () => {
  const coordinatorSkill = await client.beta.skills.create({ files: await skillFiles({ 'planning/SKILL.md': '---\ndescription: How the coordinator plans.\n---\n' }) });
  const specialistSkill = await client.beta.skills.create({ files: await skillFiles(reportTool('specialist', randomBytes(10))) });
  const specialist = await client.beta.agents.create({ name: 'specialist', model: MODEL, system: 'You are the specialist.', tools: [{ type: 'agent_toolset_20260401' }], skills: [{ type: 'custom', skill_id: specialistSkill.id }] });
  const coordinator = await client.beta.agents.create({
    name: 'coordinator',
    model: MODEL,
    system: 'You coordinate.',
    skills: [{ type: 'custom', skill_id: coordinatorSkill.id }],
    multiagent: { type: 'coordinator', agents: [specialist.id] },
  });
  const environment = await client.beta.environments.create({ name: 'skills-threads-env' });
  const session = await client.beta.sessions.create({ agent: coordinator.id, environment_id: environment.id });
  assert.deepEqual(session.agent.skills, [{ type: 'custom', skill_id: coordinatorSkill.id, version: coordinatorSkill.latest_version_id }]);
  const roster = session.agent.multiagent?.type === 'coordinator' ? session.agent.multiagent.agents : [];
  assert.deepEqual(roster.map((a) => ('skills' in a ? a.skills : undefined)), [[{ type: 'custom', skill_id: specialistSkill.id, version: specialistSkill.latest_version_id }]]);

  const systemOf = (request: ScriptedRequest) => JSON.stringify(request.system ?? '');
  f.harness.model.setScript((request) => {
    const answered = request.messages.some((m) => m.role === 'assistant');
    if (systemOf(request).includes('You are the specialist.')) {
      if (!answered) return { content: [toolUse('bash', { command: 'ls /mnt/skills; /mnt/skills/report-tool/scripts/report.sh threads' })] };
      return { content: [text(`specialist saw: ${lastToolResults(request).map((r) => r.text).join('')}`)] };
    }
    if (!answered) return { content: [toolUse(DELEGATE_TOOL, { agent: 'specialist', message: 'Write the report.' })] };
    return { content: [text('done')] };
  });
  try {
    const calls = f.harness.model.calls.length;
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.message', content: [{ type: 'text', text: 'Get the report written.' }] }] });
    const answer = await eventually('the specialist’s report', () =>
      f.harness.model.calls.slice(calls).find((call) => !systemOf(call.body).includes('You are the specialist.') && JSON.stringify(call.body.messages).includes('specialist saw:')),
    { timeoutMs: 120_000 });
    assert.match(JSON.stringify(answer.body.messages), /specialist saw: planning\\nreport-tool\\nreport specialist: threads/);

    const mine = f.harness.model.calls.slice(calls);
    const specialistPrompts = mine.filter((call) => systemOf(call.body).includes('You are the specialist.')).map((call) => systemOf(call.body));
    const coordinatorPrompts = mine.filter((call) => !systemOf(call.body).includes('You are the specialist.')).map((call) => systemOf(call.body));
    assert.ok(specialistPrompts.length > 0 && coordinatorPrompts.length > 0);
    for (const prompt of specialistPrompts) {
      assert.match(prompt, /report-tool \(\/mnt\/skills\/report-tool\/SKILL\.md\)/);
      assert.doesNotMatch(prompt, /planning/);
    }
    for (const prompt of coordinatorPrompts) {
      assert.match(prompt, /planning \(\/mnt\/skills\/planning\/SKILL\.md\): How the coordinator plans\./);
      assert.doesNotMatch(prompt, /report-tool/);
    }
  } finally {
    f.harness.model.setScript(stepsScript);
  }
});
