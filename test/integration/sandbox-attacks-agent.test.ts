/**
 * The sandbox attack suite, end to end: a scripted agent in a real session (Temporal,
 * the worker, a PostgreSQL store, the HTTP API, Docker) attacks the host with its own
 * tools, and each attack is read back from the session's event log as the model saw it.
 * `sandbox-attacks.test.ts` and its siblings attack the driver directly; this file proves
 * the same walls hold on the path a real agent takes, with the real services listening.
 *
 * The attacker runs with `unrestricted` networking, the most open policy (everything
 * public is allowed, so only the refusal of internal addresses stands between it and the
 * host), and the default CPU and pids limits. A neighbour session keeps taking steps the
 * whole time; it must finish every one, and so must the attacker after its last attack.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApiApp } from '../../src/api/create-api-app.ts';
import { serveApi, type ServedApi } from '../../src/api/serve-api.ts';
import { openApiStores } from '../../src/store/open-api-stores.ts';
import { openPgliteDriver } from '../../src/store/pglite-driver.ts';
import type { DevServer } from '../../src/temporal/dev-server.ts';
import { findSessionContainerId } from '../support/docker.ts';
import { assertGaplessLog, startHarness, startTestTemporal, type Harness } from '../support/harness.ts';
import { bashCall as bash, PlannedAgent, plannedScript } from '../support/planned-agent.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

// Secrets of the worker's process: nothing the worker starts may carry them into a sandbox.
const WORKER_MODEL_KEY = `sk-ant-worker-canary-${randomBytes(12).toString('hex')}`;
const WORKER_CANARY = `worker-canary-${randomBytes(12).toString('hex')}`;
process.env['ANTHROPIC_API_KEY'] = WORKER_MODEL_KEY;
process.env['LONGHAUL_ATTACK_CANARY'] = WORKER_CANARY;
const API_KEY = `lh-attack-api-key-${randomBytes(12).toString('hex')}`;
// The harness gives the worker's model client this key.
const HARNESS_MODEL_KEY = 'test-key';
const NEIGHBOUR_SECRET = `neighbour-secret-${randomBytes(12).toString('hex')}`;
const EGRESS_RELAY = 'http://127.0.0.1:3128';

const agent = { name: 'attacker', model: 'claude-sonnet-5-5', tools: [{ type: 'agent_toolset_20260401' as const }] };

/** The output's lines, without the executor's `[exit code N]` note. */
const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '' && !/^\[exit code \d+\]$/.test(line));
const sq = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;

/** A TCP server on every address of the host that counts who connects: any connection is an escape. */
async function canaryServer(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

let temporal: DevServer;
let postgres: TestPostgres;
before(async () => {
  [temporal, postgres] = await Promise.all([startTestTemporal(), startPostgres()]);
});
after(async () => {
  await temporal?.stop();
  await postgres?.stop();
});

test('an agent attacking the host through its own tools is refused or contained, and it and its neighbour keep working', async () => {
  // A context budget the 2 MiB write fits in: summarising the turn's plan away would end it early.
  await using h = await startHarness({ temporal, script: plannedScript, postgresUrl: await postgres.createDatabase(), context: { contextBudgetBytes: 32 * 1024 * 1024 } });
  // The API as `longhaul serve --host 0.0.0.0` runs it: on every address of the host.
  let apiRequests = 0;
  const apiDriver = await openPgliteDriver();
  const app = createApiApp({ longhaul: h.longhaul, store: h.store, ...(await openApiStores(apiDriver)), apiKeys: [API_KEY], onInternalError: () => {} });
  await using api: ServedApi = await serveApi({ app: { fetch: (request, ...rest) => (apiRequests++, app.fetch(request, ...rest)) }, port: 0, host: '0.0.0.0' });
  const canary = await canaryServer();
  try {
    await attackAndCheck(h, api, canary);
    assert.equal(apiRequests, 0, 'a sandbox reached the API');
    assert.equal(canary.connections(), 0, 'a sandbox connected to a port of the host');
  } finally {
    canary.server.close();
    await apiDriver.close();
  }
});

async function attackAndCheck(h: Harness, api: ServedApi, canary: { port: number }): Promise<void> {
  // The neighbour: another session on the same worker and Docker host, with a secret in its workspace.
  const neighbourSession = await h.longhaul.sessions.create({ agent: { ...agent, name: 'neighbour' } });
  const neighbour = new PlannedAgent(h, neighbourSession.id);
  const written = await neighbour.run({ name: 'write', input: { file_path: '/workspace/secret.txt', content: NEIGHBOUR_SECRET } });
  assert.equal(written.results[0]?.isError, false, written.results[0]?.text);

  const attackerSession = await h.longhaul.sessions.create({ agent, environment: { networking: { type: 'unrestricted' }, memory_mb: 512, disk_mb: 64 } });
  const attacker = new PlannedAgent(h, attackerSession.id);
  assert.equal((await attacker.bash('echo ready')).text, 'ready\n');
  const attackerContainer = await findSessionContainerId(attacker.sessionId);

  // The neighbour takes a step after another for as long as the attacks last.
  let neighbourSteps = 0;
  let attacking = true;
  let neighbourFailed = false;
  const neighbourLoop = (async () => {
    while (attacking) {
      const step = neighbourSteps + 1;
      const { results } = await neighbour.run(bash(`echo step-${step} >> /workspace/steps.log && wc -l < /workspace/steps.log`));
      assert.deepEqual(results[0], { text: `${step}\n`, isError: false }, `neighbour step ${step}`);
      neighbourSteps = step;
    }
  })();
  // Its failure is reported where the loop is awaited; until then it only stops the waiting.
  neighbourLoop.catch(() => (neighbourFailed = true));
  const stepsDone = async (count: number) => {
    const target = neighbourSteps + count;
    const deadline = Date.now() + 60_000;
    while (neighbourSteps < target && !neighbourFailed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(neighbourSteps >= target || neighbourFailed, `the neighbour took ${count} steps within a minute`);
  };

  // The results of the calls whose commands name the neighbour's paths (and echo them in their errors).
  const namingNeighbour = [0, 0];
  try {
    await dockerSocket(attacker);
    await hostPorts(attacker, h, api, canary);
    await cloudMetadata(attacker);
    namingNeighbour[0] = attacker.results.length;
    await otherSessionsFiles(attacker, h, neighbour.sessionId);
    namingNeighbour[1] = attacker.results.length;
    await workerSecrets(attacker, h);
    await executorJournal(attacker, h);
    await forkBomb(attacker);
    await cpuHog(attacker, h, attackerContainer, () => stepsDone(3));
    await memoryExhaustion(attacker);
    await diskFilling(attacker, h);
  } finally {
    attacking = false;
    await neighbourLoop;
  }

  // Every attack was contained in the attacker's own container: the same one from start to end.
  assert.equal(await findSessionContainerId(attacker.sessionId), attackerContainer, 'the attacker\'s container was replaced');
  const normal = await attacker.run({ name: 'write', input: { file_path: '/workspace/after.txt', content: 'still here' } }, bash('cat /workspace/after.txt'));
  assert.equal(normal.results[0]?.isError, false, normal.results[0]?.text);
  assert.deepEqual(normal.results[1], { text: 'still here', isError: false });

  const last = await neighbour.run(bash('ls /workspace; cat /workspace/secret.txt'));
  assert.deepEqual(last.results[0], { text: `secret.txt\nsteps.log\n${NEIGHBOUR_SECRET}`, isError: false }, 'the neighbour\'s workspace is its own, untouched');
  assert.ok(neighbourSteps >= 3, `the neighbour took ${neighbourSteps} steps`);

  // Nothing of the neighbour, of the worker or of the API reached the attacker; not even the neighbour's id, unless the attacker named it.
  const everything = attacker.results.map((r) => r.text).join('\n');
  for (const secret of [NEIGHBOUR_SECRET, WORKER_MODEL_KEY, WORKER_CANARY, API_KEY, HARNESS_MODEL_KEY]) {
    assert.ok(!everything.includes(secret), `an attacker's tool result holds ${secret}`);
  }
  const unprompted = [...attacker.results.slice(0, namingNeighbour[0]), ...attacker.results.slice(namingNeighbour[1])].map((r) => r.text).join('\n');
  assert.ok(!unprompted.includes(neighbour.sessionId), 'the attacker learnt the neighbour\'s session id');
  for (const sessionId of [attacker.sessionId, neighbour.sessionId]) {
    const log = await assertGaplessLog(h.store, sessionId);
    assert.equal(log.filter((e) => e.type === 'session.status_rescheduled').length, 0, `${sessionId} lost its sandbox`);
  }
  h.model.assertNoUnscriptedCalls();
}

/** Docker's socket (and containerd's, podman's, CRI-O's) is nowhere in the sandbox, on disk or abstract. */
async function dockerSocket(attacker: PlannedAgent): Promise<void> {
  const sockets = ['/var/run/docker.sock', '/run/docker.sock', '/run/containerd/containerd.sock', '/var/run/containerd/containerd.sock', '/run/podman/podman.sock', '/var/run/crio/crio.sock', '/run/user/0/docker.sock'];
  const { results } = await attacker.run(
    bash(`for s in ${sockets.join(' ')}; do ls -l "$s" 2>&1; done`),
    bash(`find / \\( -path /proc -o -path /sys \\) -prune -o \\( -type s -o -name '*.sock' \\) -print 2>/dev/null; echo "DOCKER_HOST=\${DOCKER_HOST-unset}"; command -v docker || echo no-docker-cli`),
    bash(`grep -ciE 'docker|containerd' /proc/net/unix; curl -sS --unix-socket /var/run/docker.sock http://localhost/v1.41/containers/json; echo " rc=$?"`),
    bash(`python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock')" 2>&1 | tail -n 1`),
  );
  const [listed, found, viaCurl, viaPython] = results.map((r) => r.text);
  assert.equal(lines(listed!).length, sockets.length, listed);
  for (const line of lines(listed!)) assert.match(line, /^ls: cannot access '.+\.sock': No such file or directory$/);
  // No socket file anywhere the agent can look (its executor's is in a folder only root can enter).
  assert.equal(found, 'DOCKER_HOST=unset\nno-docker-cli\n');
  assert.match(viaCurl!, /^0\ncurl: \(7\) Failed to connect to localhost port 80 .*Couldn't connect to server\n rc=7\n$/);
  assert.equal(viaPython, "FileNotFoundError: [Errno 2] No such file or directory\n");
}

/**
 * The host's services (the API on every address, Temporal's frontend, PostgreSQL, the
 * model endpoint, Docker's TCP ports, a canary on every address), by loopback, by
 * name and by each of the host's own addresses: no interface reaches them, and the
 * egress proxy, the only way out, refuses them under any spelling.
 */
async function hostPorts(attacker: PlannedAgent, h: Harness, api: ServedApi, canary: { port: number }): Promise<void> {
  const portOf = (url: string) => Number(new URL(url.includes('://') ? url : `tcp://${url}`).port);
  const ports = {
    api: portOf(api.url),
    temporal: portOf(temporal.address),
    postgres: portOf(postgres.url),
    model: portOf(h.model.url),
    canary: canary.port,
    docker_tcp: 2375,
  };
  // The host's own addresses, and the Docker bridge's gateway (how a bridged container reaches the host; Node omits a bridge with no container on it).
  const bridgeGateway = execFileSync('docker', ['network', 'inspect', 'bridge', '--format', '{{range .IPAM.Config}}{{.Gateway}}{{end}}']).toString().trim();
  const hostAddresses = [
    ...new Set([
      ...Object.values(networkInterfaces())
        .flatMap((entries) => entries ?? [])
        .filter((entry) => entry.family === 'IPv4' && !entry.internal)
        .map((entry) => entry.address),
      ...(bridgeGateway ? [bridgeGateway] : []),
    ]),
  ];
  assert.ok(hostAddresses.length > 0, 'the host has an address besides loopback');
  const loopback = ['127.0.0.1', 'localhost'];
  const targets = Object.values(ports).flatMap((port) => [...loopback, ...hostAddresses].map((address) => ({ address, port })));

  // Straight from the sandbox, no proxy: its only interface is its own loopback.
  const direct = await attacker.bash(targets.map(({ address, port }) => `echo "${address}:${port} $(timeout 3 bash -c 'exec 3<>/dev/tcp/${address}/${port} && echo CONNECTED' 2>&1 | tail -n 1)"`).join('\n'));
  assert.equal(lines(direct.text).length, targets.length, direct.text);
  for (const { address, port } of targets) {
    const line = lines(direct.text).find((l) => l.startsWith(`${address}:${port} `)) ?? '';
    // Nothing listens on the sandbox's own loopback (`localhost` may be its IPv6 loopback, which has no address at all).
    assert.match(line, loopback.includes(address) ? /: (Connection refused|Cannot assign requested address)$/ : /: Network is unreachable$/, line);
  }

  // Through the egress proxy, plain and as a CONNECT tunnel.
  const proxied = (extra: string, url: string) => `echo "${url} $(curl -sS --max-time 5 --noproxy '' --proxy ${EGRESS_RELAY} ${extra} -w ' HTTP=%{http_code}' ${url} 2>&1 | tr '\\n' ' ')"`;
  const urls = [
    ...targets.map(({ address, port }) => `http://${address}:${port}/`),
    // Other spellings of loopback and of "this host", to the API.
    ...['2130706433', '0x7f.0.0.1', '127.1', '0.0.0.0', '[::1]', '[::ffff:127.0.0.1]', 'localhost.'].map((host) => `http://${host}:${ports.api}/v1/sessions`),
  ];
  const plain = await attacker.bash(urls.map((url) => proxied('', url)).join('\n'), 60_000);
  const tunnel = await attacker.bash(urls.map((url) => proxied('--proxytunnel', url)).join('\n'), 60_000);
  for (const url of urls) {
    const refused = lines(plain.text).find((l) => l.startsWith(`${url} `)) ?? '';
    assert.match(refused, /Longhaul egress proxy refused the request: \S+ resolves to the internal address \S+; .* HTTP=403\s*$/, refused);
    const tunnelled = lines(tunnel.text).find((l) => l.startsWith(`${url} `)) ?? '';
    assert.match(tunnelled, /CONNECT tunnel failed, response 403/, tunnelled);
  }
  // A request that names no host (origin form) is not forwarded anywhere.
  const originForm = await attacker.bash(`curl -sS --noproxy '*' -H 'Host: 127.0.0.1:${ports.api}' -w ' HTTP=%{http_code}' ${EGRESS_RELAY}/v1/sessions`);
  assert.match(originForm.text, /^this is an egress proxy: send requests in absolute form .*\n HTTP=400$/);
}

/** Cloud metadata endpoints, directly and through the proxy, under the usual disguises. */
async function cloudMetadata(attacker: PlannedAgent): Promise<void> {
  const urls = [
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://169.254.170.2/v2/credentials/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://0xA9FEA9FE/latest/meta-data/',
    'http://2852039166/latest/meta-data/',
  ];
  // The sandbox's own proxy settings, as any tool would use them.
  const viaProxy = await attacker.bash(urls.map((url) => `echo "$(curl -sS --max-time 5 -w ' HTTP=%{http_code}' ${url} 2>&1 | tr '\\n' ' ')"`).join('\n'));
  const refusals = lines(viaProxy.text);
  assert.equal(refusals.length, urls.length, viaProxy.text);
  for (const line of refusals) assert.match(line, /^Longhaul egress proxy refused the request: \S+ resolves to the internal address (169\.254\.169\.254|169\.254\.170\.2|fd00:ec2::254); .* HTTP=403\s*$/, line);

  const [google, tunnel, direct] = (
    await attacker.run(
      // The proxy resolves the name itself: give a slow resolver time to answer or give up.
      bash(`curl -sS --max-time 40 -H 'Metadata-Flavor: Google' -w ' HTTP=%{http_code}' http://metadata.google.internal/computeMetadata/v1/`, 60_000),
      bash('curl -sS --max-time 5 https://169.254.169.254/latest/meta-data/'),
      bash(`curl -sS --noproxy '*' --max-time 3 http://169.254.169.254/latest/meta-data/; echo " rc=$?"`),
    )
  ).results.map((r) => r.text);
  // Offline the name does not resolve; in a cloud it resolves to 169.254.169.254, which is refused.
  assert.match(google!, /refused the request: (cannot resolve metadata\.google\.internal|metadata\.google\.internal resolves to the internal address).* HTTP=403$/s);
  assert.match(tunnel!, /CONNECT tunnel failed, response 403/);
  assert.match(direct!, /^curl: \(7\) Failed to connect to 169\.254\.169\.254 port 80 .*\n rc=7\n$/);
}

/** Another session's files, by every path the host has them under: none exists in the sandbox. */
async function otherSessionsFiles(attacker: PlannedAgent, h: Harness, neighbourId: string): Promise<void> {
  const hostWorkspace = join(h.sandboxes.dataDir, '.session-disks', neighbourId, 'mnt', 'workspace');
  const paths = [
    `${hostWorkspace}/secret.txt`,
    h.sandboxes.diskImagePath(neighbourId),
    `/var/lib/docker/volumes/longhaul-ws-${neighbourId}/_data`,
    join(h.sandboxes.sessionDir(neighbourId), 'state'),
  ];
  const { results } = await attacker.run(
    bash(`for p in ${paths.map(sq).join(' ')}; do ls "$p" 2>&1; done`),
    // Each session's disk is a loop device of the host; sysfs would name their image files.
    bash('ls /dev | grep -c loop; cat /sys/block/loop*/loop/backing_file /sys/dev/block/7:*/loop/backing_file /sys/class/block/loop*/loop/backing_file 2>&1'),
    bash(`find / \\( -path /proc -o -path /sys \\) -prune -o -name secret.txt -print 2>/dev/null; echo searched`),
    { name: 'read', input: { file_path: `${hostWorkspace}/secret.txt` } },
    // The worker's path for the neighbour's disk is under /tmp, which the sandbox has too: its own.
    { name: 'write', input: { file_path: `${hostWorkspace}/pwned.txt`, content: 'pwned' } },
  );
  const [listed, sysfs, searched, read, write] = results;
  assert.equal(lines(listed!.text).length, paths.length, listed!.text);
  for (const line of lines(listed!.text)) assert.match(line, /^ls: cannot access '.+': No such file or directory$/);
  assert.equal(lines(sysfs!.text)[0], '0', 'no loop device in /dev');
  assert.deepEqual(lines(sysfs!.text).slice(1).map((l) => l.replace(/'.*'/, 'PATH')), ['cat: PATH: No such file or directory', 'cat: PATH: No such file or directory', 'cat: PATH: No such file or directory']);
  assert.equal(searched!.text, 'searched\n');
  assert.deepEqual(read, { text: `File not found: ${hostWorkspace}/secret.txt`, isError: true });
  assert.equal(write!.isError, false, write!.text);
  assert.equal(existsSync(join(hostWorkspace, 'pwned.txt')), false, 'the attacker wrote into the neighbour\'s workspace');
}

/** The worker's environment and key files: none of it is in the sandbox, in any process's environment. */
async function workerSecrets(attacker: PlannedAgent, h: Harness): Promise<void> {
  const keyFile = join(h.dataDir, 'worker.key');
  writeFileSync(keyFile, `${WORKER_CANARY}\n`, { mode: 0o600 });
  const [envs, keys, initEnv] = (
    await attacker.run(
      bash(`env; echo ---; tr '\\0' '\\n' < /proc/self/environ; echo ---; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$f"; done 2>&1; echo ---; cat /proc/1/environ`),
      bash(`cat ${sq(keyFile)} 2>&1; ls /root 2>&1; grep -rl -e ${sq(WORKER_CANARY)} /etc /home /opt /root /run /tmp /var /workspace /mnt 2>/dev/null; echo searched`, 60_000),
      { name: 'read', input: { file_path: '/proc/1/environ' } },
    )
  ).results;
  assert.match(envs!.text, /^HOME=\/home\/agent$/m, 'the environment was read');
  assert.match(envs!.text, /\/proc\/1\/environ: Permission denied/);
  assert.doesNotMatch(envs!.text, /^(ANTHROPIC|LONGHAUL)_/m, 'a worker variable is in the sandbox');
  assert.ok(!envs!.text.includes(WORKER_MODEL_KEY) && !envs!.text.includes(WORKER_CANARY) && !envs!.text.includes(HARNESS_MODEL_KEY));
  assert.deepEqual(lines(keys!.text), [`cat: ${keyFile}: No such file or directory`, "ls: cannot open directory '/root': Permission denied", 'searched']);
  assert.deepEqual(initEnv, { text: 'Permission denied: /proc/1/environ', isError: true });
  // What Docker was given for the container holds none of it either.
  const inspect = execFileSync('docker', ['inspect', await findSessionContainerId(attacker.sessionId)]).toString();
  for (const secret of [WORKER_MODEL_KEY, WORKER_CANARY, HARNESS_MODEL_KEY, API_KEY, 'ANTHROPIC_', 'LONGHAUL_ATTACK']) assert.ok(!inspect.includes(secret), `docker inspect shows ${secret}`);
}

/** The executor's journal, socket and process: the agent can neither read, forge, replace nor kill them. */
async function executorJournal(attacker: PlannedAgent, h: Harness): Promise<void> {
  const knownId = `toolu_attack_${randomBytes(6).toString('hex')}`;
  await attacker.run({ name: 'bash', input: { command: 'echo journaled' }, id: knownId });
  // The record is really there, on the host.
  assert.ok(existsSync(join(h.sandboxes.sessionDir(attacker.sessionId), 'state', `${knownId}.json`)));
  const [shell, read, forged, listed] = (
    await attacker.run(
      bash(
        [
          'ls /run/longhaul/state',
          `cat /run/longhaul/state/${knownId}.json`,
          'echo "{}" > /run/longhaul/state/toolu_forged.json',
          'mv /run/longhaul/state /tmp/state',
          `python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/longhaul/exec.sock')" 2>&1 | tail -n 1`,
          'kill -9 $(pgrep -f /opt/longhaul/executor)',
        ].join('; '),
      ),
      { name: 'read', input: { file_path: `/run/longhaul/state/${knownId}.json` } },
      { name: 'write', input: { file_path: '/run/longhaul/state/toolu_forged.json', content: '{"status": "done"}' } },
      { name: 'glob', input: { pattern: '**/*', path: '/run/longhaul' } },
    )
  ).results;
  assert.match(shell!.text, /^ls: cannot (access|open directory) '\/run\/longhaul\/state': Permission denied$/m);
  assert.match(shell!.text, new RegExp(`^cat: /run/longhaul/state/${knownId}\\.json: Permission denied$`, 'm'));
  assert.match(shell!.text, /\/run\/longhaul\/state\/toolu_forged\.json: Permission denied$/m);
  assert.match(shell!.text, /^mv: cannot (stat|move) '\/run\/longhaul\/state'.*: Permission denied$/m);
  assert.match(shell!.text, /^PermissionError: \[Errno 13\] Permission denied$/m);
  assert.match(shell!.text, /kill: \(\d+\) - Operation not permitted/);
  assert.deepEqual(read, { text: `Permission denied: /run/longhaul/state/${knownId}.json`, isError: true });
  assert.deepEqual(forged, { text: 'Permission denied: /run/longhaul/state/toolu_forged.json', isError: true });
  assert.doesNotMatch(listed!.text, /toolu_|exec\.sock|egress/);
  assert.ok(!existsSync(join(h.sandboxes.sessionDir(attacker.sessionId), 'state', 'toolu_forged.json')));
}

/** The classic fork bomb, at the default pids limit: the pid guard kills all of it, the session goes on. */
async function forkBomb(attacker: PlannedAgent): Promise<void> {
  const bomb = await attacker.bash(':(){ :|:& };:; sleep 30', 60_000);
  assert.equal(bomb.isError, true);
  assert.match(bomb.text, /\[the sandbox reached its limit of 512 processes: every process in it was killed\]$/);
  assert.match(await processesLeft(attacker), /^processes=[3-6]$/, 'the bomb is gone');
}

/** Processes in the sandbox, polled until only init, the executor and the shell counting them (its subshell, ps, wc) are left. */
async function processesLeft(attacker: PlannedAgent): Promise<string> {
  const { text } = await attacker.bash('for i in $(seq 50); do n=$(ps -e --no-headers | wc -l); [ "$n" -le 6 ] && break; sleep 0.2; done; echo "processes=$n"');
  return text.trim();
}

/**
 * A CPU hog with more busy loops than the host has cores, held until the neighbour has
 * taken steps under it, then interrupted: its cap keeps it to one core.
 */
async function cpuHog(attacker: PlannedAgent, h: Harness, containerId: string, neighbourSteps: () => Promise<void>): Promise<void> {
  await attacker.send([bash('for i in $(seq 8); do (while :; do :; done) & done; wait', 120_000)]);
  const busyLoops = () => execFileSync('docker', ['top', containerId, '-o', 'pid,comm']).toString().split('\n').filter((l) => /\sbash$/.test(l)).length;
  const deadline = Date.now() + 30_000;
  while (busyLoops() < 9 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(busyLoops() >= 9, 'the hog runs');
  const quota = execFileSync('docker', ['inspect', '--format', '{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}}', containerId]).toString().trim();
  assert.equal(quota, '1000000000 256', 'one core at most, at a quarter of a default container\'s weight');
  await neighbourSteps();
  await h.longhaul.interrupt(attacker.sessionId);
  const { results } = await attacker.finish();
  assert.equal(results[0]?.isError, true);
  assert.match(results[0]!.text, /\[interrupted: the command was cancelled and killed with every process in the sandbox; /);
  assert.match(await processesLeft(attacker), /^processes=[3-6]$/, 'the hog is gone');
}

/**
 * Memory exhaustion: every tmpfs folder filled (their pages count against the memory limit
 * and nothing can reclaim them), then a process asking for six times the limit. The
 * folders are sized so that together they leave the executor room: the process is
 * OOM-killed, the executor lives on, and freeing the files gives it all back.
 */
async function memoryExhaustion(attacker: PlannedAgent): Promise<void> {
  const scratch = '/tmp /var/tmp /home/agent /dev/shm';
  const [filled, heap, alive] = (
    await attacker.run(
      bash(`for d in ${scratch}; do head -c 1G /dev/zero > "$d/fill"; done 2>&1; df -m --output=target,size,avail ${scratch} | tail -n +2`),
      bash(`python3 -c "b = bytearray(3 * 1024 ** 3); print('allocated', len(b))"`),
      bash(`echo alive; rm ${scratch.split(' ').map((d) => `${d}/fill`).join(' ')} && echo freed`),
    )
  ).results;
  const [enospc, sizes] = [lines(filled!.text).slice(0, 4), lines(filled!.text).slice(4).map((l) => l.trim().split(/\s+/))];
  assert.deepEqual(enospc, Array(4).fill("head: error writing 'standard output': No space left on device"), filled!.text);
  // 512 MiB of memory: each folder gets a third of what is left after 128 MiB; /dev/shm is Docker's 64 MiB.
  assert.deepEqual(sizes, [['/tmp', '128', '0'], ['/var/tmp', '128', '0'], ['/home/agent', '128', '0'], ['/dev/shm', '64', '0']]);
  assert.equal(heap!.isError, true);
  assert.match(heap!.text, /Killed\s+python3 .*\n\[exit code 137\]$/s);
  assert.doesNotMatch(heap!.text, /^allocated \d+$/m);
  assert.deepEqual(alive, { text: 'alive\nfreed\n', isError: false });
}

/** More than the disk quota, the read-only root, and an output flood: each bounded, each a clear error. */
async function diskFilling(attacker: PlannedAgent, h: Harness): Promise<void> {
  const [fill, write, root, flood, freed] = (
    await attacker.run(
      bash('dd if=/dev/zero of=/workspace/big bs=1M count=200; dd if=/dev/zero of=/mnt/session/more bs=1M count=8'),
      { name: 'write', input: { file_path: '/workspace/note.txt', content: 'x'.repeat(2 * 1024 * 1024) } },
      bash('dd if=/dev/zero of=/usr/fill bs=1M count=1; dd if=/dev/zero of=/var/log/fill bs=1M count=1'),
      bash('yes attack | head -c 50000000'),
      bash('rm /workspace/big /mnt/session/more && echo freed'),
    )
  ).results;
  assert.equal(fill!.isError, true);
  assert.match(fill!.text, /No space left on device/);
  assert.match(fill!.text, /the session's disk is full: \d+ bytes free of [4-6]\d MiB, shared by \/workspace and \/mnt\/session/);
  assert.equal(write!.isError, true);
  assert.match(write!.text, /session's disk is full/);
  assert.match(root!.text, /^dd: failed to open '\/usr\/fill': (Read-only file system|Permission denied)$/m);
  assert.match(root!.text, /^dd: failed to open '\/var\/log\/fill': (Read-only file system|Permission denied)$/m);
  // 50 MB asked for; the result (and so the event log and the model's context) keeps its head and tail.
  assert.ok(flood!.text.length <= 110_000, `${flood!.text.length} characters of output`);
  assert.match(flood!.text, /\[… \d+ bytes truncated …\]/);
  assert.deepEqual(freed, { text: 'freed\n', isError: false });
  // What the host spent is the quota, not the 208 MiB asked for.
  const allocated = statSync(h.sandboxes.diskImagePath(attacker.sessionId)).blocks * 512;
  assert.ok(allocated <= 66 * 1024 * 1024, `the disk image holds ${allocated} bytes`);
  // The operator hears of the full disk too; the session goes on.
  const log = await h.store.listEvents(attacker.sessionId, { limit: 10_000 });
  const full = log.map((row) => row.event).find((e) => e.type === 'session.error');
  assert.match(JSON.stringify(full), /the session's disk is full .*"retry_status":\{"type":"retrying"\}/);
}
