import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { consoleBundleExists } from '../../src/api/console-routes.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { lastToolResults, text, toolUse, type ScriptFunction, type ScriptedRequest } from '../../src/testing/index.ts';
import { startTestTemporal } from '../support/harness.ts';
import { API_KEY, startApiFixture, type ApiFixture } from './api-fixture.ts';
import { idleWith, sessionLog, userText, waitForEvent } from './session-log.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Where to save the README's screenshots (`LONGHAUL_CONSOLE_SCREENSHOTS=docs`); unset, none are taken. */
const SCREENSHOTS = process.env['LONGHAUL_CONSOLE_SCREENSHOTS'];
const MODEL = 'claude-sonnet-5';
const TEMPORAL_UI = 'http://temporal-ui.test:8233';

let temporal: DevServer;
let browser: BrowserContext;
let profile: string;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: LONGHAUL_SETUP_CHROMIUM=1 bash scripts/setup.sh installs it (apt-get install chromium)`);
  assert.ok(consoleBundleExists(), 'the web console is not built: scripts/setup.sh builds it (npm run build:console)');
  temporal = await startTestTemporal();
  // A fresh profile per run: no cached page, no stored key from an earlier run.
  profile = await mkdtemp(join(tmpdir(), 'longhaul-console-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  await rm(profile, { recursive: true, force: true });
  await temporal?.stop();
});

async function agentAndEnvironment(f: ApiFixture, name: string, tools: unknown[]) {
  const agent = await f.client.beta.agents.create({ name, model: MODEL, tools } as never);
  const environment = await f.client.beta.environments.create({ name: `${name}-env`, config: { type: 'cloud', networking: { type: 'unrestricted' } } });
  return { agent, environment };
}

async function screenshot(page: Page, name: string) {
  if (!SCREENSHOTS) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.locator('.app').screenshot({ path: join(SCREENSHOTS, name) });
}

/** A new tab, signed in, on a session's page reached as a user would: from the list. */
async function sessionPage(f: ApiFixture, session: { id: string; title: string | null }): Promise<Page> {
  const page = await browser.newPage();
  await signIn(page, f.api.url, API_KEY);
  await page.locator(`tr[data-session-id="${session.id}"]`).click();
  await page.getByRole('heading', { name: session.title ?? 'Untitled session' }).waitFor();
  return page;
}

async function signIn(page: Page, baseUrl: string, key: string) {
  await page.goto(`${baseUrl}/console/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Open console' }).click();
}

test('a session shows up live in the list; Allow clicked on its page resumes the agent, which finishes; Deny on another refuses its tool', async () => {
  // Each session's first request asks for the tool; the request after its result ends the turn.
  const script: ScriptFunction = (request) =>
    lastToolResults(request).length === 0 ? { content: [text('I will check the sandbox first.'), toolUse('bash', { command: 'echo approved-in-the-console && uname -s' })] } : { content: [text('The command ran: the sandbox is Linux.')] };
  await using f = await startApiFixture({ temporal, script, console: { temporalUiUrl: TEMPORAL_UI } });
  await using page = await browser.newPage();
  await signIn(page, f.api.url, API_KEY);
  await page.getByRole('heading', { name: 'Sessions' }).waitFor();

  // Created after the page loaded: the list has to pick it up on its own.
  const { agent, environment } = await agentAndEnvironment(f, 'release-checker', [{ type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'always_ask' } } }]);
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, title: 'Check the sandbox before the release' });
  const row = page.locator(`tr[data-session-id="${session.id}"]`);
  await row.waitFor();
  assert.match((await row.textContent()) ?? '', /release-checker/);

  await row.click();
  await page.getByRole('heading', { name: 'Check the sandbox before the release' }).waitFor();
  const temporalLink = page.getByRole('link', { name: /Open in Temporal UI/ });
  assert.equal(await temporalLink.getAttribute('href'), `${TEMPORAL_UI}/namespaces/default/workflows/${session.id}`);

  await f.client.beta.sessions.events.send(session.id, { events: [userText('Is the sandbox ready for the release?')] });
  // The page shows what streams in: the message, then the tool call waiting for approval.
  await page.getByText('Is the sandbox ready for the release?').waitFor();
  const allow = page.getByRole('button', { name: 'Allow' });
  await allow.waitFor();
  await page.getByText('awaiting approval').waitFor();
  await screenshot(page, 'console-approval.png');
  let log = await sessionLog(f.client, session.id);
  assert.equal(log.filter((e) => e.type === 'agent.tool_result').length, 0, 'the tool waits for the approval');
  const toolUseEvent = log.find((e) => e.type === 'agent.tool_use');
  assert.ok(toolUseEvent);

  await allow.click();
  log = await waitForEvent(f.client, session.id, idleWith('end_turn'));
  assert.deepEqual(
    log.filter((e) => e.type === 'user.tool_confirmation').map((e) => e.type === 'user.tool_confirmation' && [e.tool_use_id, e.result]),
    [[toolUseEvent.id, 'allow']],
  );
  const result = log.find((e) => e.type === 'agent.tool_result');
  assert.ok(result?.type === 'agent.tool_result' && result.tool_use_id === toolUseEvent.id && result.is_error !== true);
  assert.equal((await f.client.beta.sessions.retrieve(session.id)).status, 'idle');

  // ...and the page follows: the tool's output and the agent's last message appear without a reload.
  await page.getByText('The command ran: the sandbox is Linux.').waitFor();
  const output = page.locator(`[data-tool-result-for="${toolUseEvent.id}"]`);
  await output.locator('summary').click();
  assert.match((await output.textContent()) ?? '', /approved-in-the-console/);
  assert.equal(await page.getByRole('button', { name: 'Allow' }).count(), 0, 'no approval is pending any more');
  await page.getByText('Idle · end turn').waitFor();
  await page.locator('[data-event-type="agent.tool_use"] summary', { hasText: 'Input' }).click();

  await screenshot(page, 'console-session.png');

  // A second session, waiting on its own approval, so the list shows more than one status.
  const other = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, title: 'Clean up old build artifacts' });
  await f.client.beta.sessions.events.send(other.id, { events: [userText('Remove the old artifacts')] });
  await waitForEvent(f.client, other.id, idleWith('requires_action'));
  const writer = await agentAndEnvironment(f, 'docs-writer', []);
  const fresh = await f.client.beta.sessions.create({ agent: writer.agent.id, environment_id: writer.environment.id, title: 'Draft the changelog' });
  await page.getByRole('link', { name: '← Sessions' }).click();
  await page.locator(`tr[data-session-id="${fresh.id}"]`).waitFor();
  await screenshot(page, 'console-sessions.png');

  // Deny, on the other session's page: the tool never runs and the model is told why.
  await page.locator(`tr[data-session-id="${other.id}"]`).click();
  await page.getByRole('button', { name: 'Deny' }).click();
  const denied = await waitForEvent(f.client, other.id, idleWith('end_turn'));
  assert.deepEqual(
    denied.filter((e) => e.type === 'user.tool_confirmation').map((e) => e.type === 'user.tool_confirmation' && [e.result, e.deny_message]),
    [['deny', 'Denied in the Longhaul console']],
  );
  const refused = denied.find((e) => e.type === 'agent.tool_result');
  assert.ok(refused?.type === 'agent.tool_result' && refused.is_error === true);
  await page.getByText('Denied', { exact: true }).waitFor();
});

test("a multiagent session's threads are lanes side by side, each following its own agent", async () => {
  const isResearcher = (request: ScriptedRequest) => JSON.stringify(request.system ?? '').includes('ROLE:researcher');
  const script: ScriptFunction = (request, { callIndex }) => {
    if (isResearcher(request)) {
      return lastToolResults(request).length === 0 ? { content: [toolUse('bash', { command: 'echo 100 degrees' })] } : { content: [text('Water boils at 100 °C at sea level.')] };
    }
    if (callIndex === 0) return { content: [text('I will ask the researcher.'), toolUse('delegate_to_agent', { agent: 'researcher', message: 'Find the boiling point of water.' })] };
    const reported = JSON.stringify(request.messages).includes('100 °C');
    return { content: [text(reported ? 'The researcher found it: water boils at 100 °C.' : 'Waiting for the researcher.')] };
  };
  await using f = await startApiFixture({ temporal, script, console: { temporalUiUrl: TEMPORAL_UI, temporalNamespace: 'agents' } });
  const researcher = await f.client.beta.agents.create({ name: 'researcher', model: MODEL, system: 'ROLE:researcher. You find facts.', tools: [{ type: 'agent_toolset_20260401' }] });
  const coordinator = await f.client.beta.agents.create({ name: 'coordinator', model: MODEL, tools: [{ type: 'agent_toolset_20260401' }], multiagent: { type: 'coordinator', agents: [researcher.id] } } as never);
  const environment = await f.client.beta.environments.create({ name: 'team-env' });
  const session = await f.client.beta.sessions.create({ agent: coordinator.id, environment_id: environment.id, title: 'Boiling point, with a researcher' });
  await using page = await sessionPage(f, session);
  await f.client.beta.sessions.events.send(session.id, { events: [userText('What is the boiling point of water?')] });
  const log = await waitForEvent(f.client, session.id, (e) => e.type === 'agent.message' && JSON.stringify(e.content).includes('The researcher found it'), { timeoutMs: 90_000 });
  const created = log.find((e) => e.type === 'session.thread_created');
  assert.ok(created?.type === 'session.thread_created');

  const lane = page.locator(`[data-thread-id="${created.session_thread_id}"]`);
  await lane.getByText('Water boils at 100 °C at sea level.').waitFor();
  assert.match((await lane.locator('h2').textContent()) ?? '', /researcher/);
  assert.equal(await lane.locator('[data-event-type="agent.tool_use"]').count(), 1, "the researcher's tool call is in its lane");
  // A thread is a child workflow with the thread's id.
  assert.equal(await lane.getByRole('link', { name: /Temporal/ }).getAttribute('href'), `${TEMPORAL_UI}/namespaces/agents/workflows/${created.session_thread_id}`);
  await page.getByText('The researcher found it: water boils at 100 °C.').waitFor();
  await page.locator('[data-lane="primary"]').getByText('Thread started · researcher').waitFor();
  await screenshot(page, 'console-threads.png');
});

test("an outcome's evaluations show with their verdicts as the grader sends the agent back, then lets it finish", async () => {
  const isGrader = (request: ScriptedRequest) => JSON.stringify(request.system ?? '').includes('You are the grader');
  const script: ScriptFunction = (request, { callIndex }) => {
    if (!isGrader(request)) return { content: [text(callIndex === 0 ? 'Roses are red.' : 'Roses are red, violets are blue.')] };
    const revised = JSON.stringify(request.messages).includes('violets');
    return { content: [text(JSON.stringify(revised ? { result: 'satisfied', explanation: 'Both lines rhyme now.' } : { result: 'needs_revision', explanation: 'One line cannot rhyme.' }))] };
  };
  await using f = await startApiFixture({ temporal, script, console: {} });
  const { agent, environment } = await agentAndEnvironment(f, 'poet', [{ type: 'agent_toolset_20260401' }]);
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, title: 'A rhyming couplet' });
  await using page = await sessionPage(f, session);
  await f.client.beta.sessions.events.send(session.id, { events: [{ type: 'user.define_outcome', description: 'Write a rhyming couplet', rubric: { type: 'text', content: 'Two lines that rhyme' } } as never] });
  const log = await waitForEvent(f.client, session.id, (e) => e.type === 'span.outcome_evaluation_end' && e.result === 'satisfied');
  assert.deepEqual(
    log.filter((e) => e.type === 'span.outcome_evaluation_end').map((e) => e.type === 'span.outcome_evaluation_end' && e.result),
    ['needs_revision', 'satisfied'],
  );
  await page.getByText('Outcome defined').waitFor();
  await page.getByText('Outcome evaluation 1: needs_revision').waitFor();
  await page.getByText('One line cannot rhyme.').waitFor();
  await page.getByText('Outcome evaluation 2: satisfied').waitFor();
  await page.getByText('Both lines rhyme now.').waitFor();
});

test('a model request the API refuses shows as an error in the timeline, with its message', async () => {
  await using f = await startApiFixture({ temporal, script: () => ({ fault: 'bad_request', message: 'the console test refuses this request' }), console: {} });
  const { agent, environment } = await agentAndEnvironment(f, 'unlucky', []);
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, title: 'A refused request' });
  await using page = await sessionPage(f, session);
  await f.client.beta.sessions.events.send(session.id, { events: [userText('hello')] });
  const log = await waitForEvent(f.client, session.id, (e) => e.type === 'session.error');
  const error = log.find((e) => e.type === 'session.error');
  assert.ok(error?.type === 'session.error');
  const shown = page.locator(`[data-event-id="${error.id}"]`);
  await shown.getByText(`Error · ${error.error.type}`).waitFor();
  assert.equal(await shown.locator('.text').textContent(), error.error.message);
});

test('without the key, or with a wrong one, the console shows no data', async () => {
  await using f = await startApiFixture({ temporal, script: () => ({ content: [text('ok')] }), console: {} });
  const { agent, environment } = await agentAndEnvironment(f, 'secretive', []);
  const session = await f.client.beta.sessions.create({ agent: agent.id, environment_id: environment.id, title: 'Not for strangers' });

  // Over plain HTTP: the shell loads, its config and the API need the key.
  const shell = await fetch(`${f.api.url}/console/`);
  assert.equal(shell.status, 200);
  assert.doesNotMatch(await shell.text(), new RegExp(session.id));
  assert.equal((await fetch(`${f.api.url}/console/config.json`)).status, 401);
  assert.equal((await fetch(`${f.api.url}/console/config.json`, { headers: { 'x-api-key': 'wrong' } })).status, 401);
  assert.equal((await fetch(`${f.api.url}/console/config.json`, { headers: { 'x-api-key': API_KEY } })).status, 200);

  await using page = await browser.newPage();
  await page.goto(`${f.api.url}/console/sessions/${session.id}`);
  await page.getByLabel('API key').waitFor();
  await signIn(page, f.api.url, 'not-the-key');
  assert.match((await page.getByRole('alert').textContent()) ?? '', /rejected this API key/);
  assert.equal(await page.locator('tr[data-session-id]').count(), 0);
  assert.doesNotMatch(await page.content(), /Not for strangers|secretive/);

  // The right key opens it, proving the page above was empty for want of the key alone.
  await signIn(page, f.api.url, API_KEY);
  await page.locator(`tr[data-session-id="${session.id}"]`).waitFor();
  // Signing out forgets the key: a reload asks for it again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.reload();
  await page.getByLabel('API key').waitFor();
  assert.equal(await page.locator('tr[data-session-id]').count(), 0);
});

test('the bundle is served with content types and cache headers, deep links fall back to the page, nothing outside the folder is reachable', async () => {
  await using f = await startApiFixture({ temporal, script: () => ({ content: [text('ok')] }), console: {} });
  const html = await fetch(`${f.api.url}/console/sessions/sesn_anything`);
  assert.equal(html.status, 200);
  assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(html.headers.get('cache-control'), 'no-cache');
  const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await html.text())?.[1];
  assert.ok(asset, 'the page loads a hashed script');
  const script = await fetch(`${f.api.url}${asset}`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /javascript/);
  assert.equal(script.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal((await fetch(`${f.api.url}/console/assets/missing-0000.js`)).status, 404);
  assert.equal((await fetch(`${f.api.url}/console`, { redirect: 'manual' })).headers.get('location'), '/console/');
  for (const path of ['/console/..%2f..%2fpackage.json', '/console/%2e%2e/%2e%2e/package.json', '/console/assets/..%5c..%5c..%5cpackage.json', '/console/assets/%2e%2e/%2e%2e/%2e%2e/package.json']) {
    const response = await fetch(`${f.api.url}${path}`);
    assert.doesNotMatch(await response.text(), /"name": "longhaul"/, path);
  }
});
