/**
 * temporal-compose.yml and the Dockerfile, checked as far as a machine with no container
 * registry allows, so that neither rots unnoticed:
 * - the compose file as compose expands it (`docker compose config` when the plugin is
 *   installed, else the `yaml` fallback of test/support/compose-project.ts): the topology,
 *   and every Longhaul service's settings resolved by the CLI's own config functions from
 *   the .env its header documents;
 * - the Dockerfile: its context holds every file the CLI imports, its entrypoint is the CLI;
 * - the image, built on a local stand-in for node:24-bookworm-slim (the sandbox image's
 *   Debian bookworm plus this machine's Node, npm and CA bundle): the CLI runs, `serve` is
 *   unprivileged and refuses to start without keys, the workflows bundle;
 * - a worker container with exactly the compose worker's user, privileges, mounts and
 *   environment runs a sandbox on its own loop-mounted disk, which a second worker
 *   container adopts.
 * Not exercised here: the registry images (node, postgres, temporalio/*) and `docker
 * compose up` itself. The two test images are kept as build cache for the next run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { DEFAULT_EXECUTOR_DIR, DEFAULT_SANDBOX_IMAGE } from '../../sandbox/docker-sandbox-driver.ts';
import { isMountPoint } from '../../sandbox/disk-mounts.ts';
import { resolveDataDir } from '../../src/config/dev-config.ts';
import { graderModelFromEnv, sandboxLimitsFromEnv } from '../../src/config/sandbox-config.ts';
import { secretBoxFromEnv } from '../../src/config/secret-key.ts';
import { resolveEngineConfig, resolveServeConfig, resolveWorkerModel } from '../../src/config/server-config.ts';
import { SecretBox } from '../../src/secrets/secret-box.ts';
import { removeSessionSandboxes, unmountDisksUnder } from '../support/docker.ts';
import { loadComposeProject, type ComposeProject, type ComposeService } from '../support/compose-project.ts';
import { execForm, inBuildContext, parseDockerfile } from '../support/dockerfile.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const composeFile = join(root, 'temporal-compose.yml');
const composeText = readFileSync(composeFile, 'utf8');
const dockerfile = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8');
// The last stage's: earlier ones only build what it copies.
const WORKDIR = dockerfile.findLast((i) => i.keyword === 'WORKDIR')?.args ?? assert.fail('the Dockerfile sets no WORKDIR');
const IMAGE = 'longhaul-compose-test:latest';
const BASE_IMAGE = 'longhaul-compose-test-base:latest';

/** The .env the compose header documents, with values the config functions accept. */
const DOTENV: Record<string, string> = {
  LONGHAUL_API_KEYS: 'compose-key-one,compose-key-two',
  ANTHROPIC_API_KEY: 'sk-ant-compose-test',
  LONGHAUL_SECRET_KEY: SecretBox.generateKey(),
  LONGHAUL_POSTGRES_PASSWORD: 'compose-db-password',
};

const scratch = await mkdtemp(join(tmpdir(), 'longhaul-compose-'));
after(() => rm(scratch, { recursive: true, force: true }));

async function load(variables: Record<string, string>, name: string): Promise<ComposeProject> {
  const envFile = join(scratch, name);
  await writeFile(envFile, Object.entries(variables).map(([k, v]) => `${k}=${v}\n`).join(''));
  return loadComposeProject({ file: composeFile, envFile });
}

let project: ComposeProject;
let bare: ComposeProject;
before(async () => {
  [project, bare] = await Promise.all([load(DOTENV, 'full.env'), load({}, 'empty.env')]);
});

const service = (p: ComposeProject, name: string): ComposeService => p.services[name] ?? assert.fail(`no service ${name}`);
const byCommand = (p: ComposeProject, command: string) => Object.entries(p.services).filter(([, s]) => s.command?.[0] === command);

/** What the process in the container sees: the image's ENV under the service's environment. */
function containerEnv(s: ComposeService): NodeJS.ProcessEnv {
  const imageEnv = dockerfile
    .filter((i) => i.keyword === 'ENV')
    .flatMap((i) => i.args.split(/\s+/).map((pair) => pair.split('=') as [string, string]));
  const composeEnv = Object.entries(s.environment).filter((e): e is [string, string] => e[1] !== null);
  return Object.fromEntries([...imageEnv, ...composeEnv]);
}

test('the header documents the .env the services need and every variable the file reads', () => {
  const header = composeText.slice(0, composeText.search(/^[^#]/m));
  const documented = [...header.matchAll(/^#\s+([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
  assert.deepEqual(documented.sort(), Object.keys(DOTENV).sort(), 'the test supplies exactly the documented .env');
  for (const [, name] of composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)) {
    assert.ok(header.includes(name!), `${name} is read by the file but not named in its header`);
  }
});

test('Temporal, its database, Longhaul\'s own database, two serve and two workers, each started after what it needs', (t) => {
  t.diagnostic(`compose file expanded by ${project.loadedBy}`);
  for (const name of ['postgresql', 'temporal', 'temporal-ui', 'longhaul-postgres', 'sandbox-image', 'longhaul-setup']) service(project, name);

  const serves = byCommand(project, 'serve');
  assert.equal(serves.length, 2, 'two serve services');
  const published = serves.map(([, s]) => s.ports[0]?.published);
  assert.equal(new Set(published).size, 2, `each serve on its own host port (${published.join(', ')})`);
  const workers = byCommand(project, 'worker');
  assert.equal(workers.reduce((n, [, s]) => n + (s.deploy?.replicas ?? 1), 0), 2, 'two workers');

  for (const [name, s] of Object.entries(project.services)) {
    for (const [target, { condition }] of Object.entries(s.depends_on)) {
      const dependency = service(project, target);
      if (condition === 'service_healthy') assert.ok(dependency.healthcheck, `${name} waits for ${target} to be healthy, which has no healthcheck`);
      if (condition === 'service_completed_successfully') assert.equal(dependency.restart, 'no', `${name} waits for one-shot ${target}`);
    }
  }
  for (const [name, s] of [...serves, ...workers]) {
    for (const needed of ['temporal', 'longhaul-postgres']) assert.equal(s.depends_on[needed]?.condition, 'service_healthy', `${name} waits for ${needed}`);
    assert.equal(s.depends_on['longhaul-setup']?.condition, 'service_completed_successfully', `${name} waits for its image`);
    assert.equal(s.image, service(project, 'longhaul-setup').image, `${name} runs the image longhaul-setup builds`);
  }
  for (const [name, s] of workers) assert.equal(s.depends_on['sandbox-image']?.condition, 'service_completed_successfully', `${name} waits for the sandbox image`);
  for (const [name, s] of serves) assert.ok(s.healthcheck, `${name} has a healthcheck a balancer can mirror`);
});

test('each Longhaul service runs a real CLI command, configured from the documented .env', async () => {
  const longhaulDb = service(project, 'longhaul-postgres').environment;
  const temporalDb = service(project, 'postgresql').environment;
  assert.notEqual(longhaulDb['POSTGRES_USER'], temporalDb['POSTGRES_USER'], 'Longhaul and Temporal have separate databases');
  const checkEngine = (name: string, s: ComposeService) => {
    const config = resolveEngineConfig({ flags: {}, env: containerEnv(s) });
    const url = new URL(config.databaseUrl);
    assert.deepEqual([url.hostname, url.username, decodeURIComponent(url.password), url.pathname], ['longhaul-postgres', longhaulDb['POSTGRES_USER'], DOTENV['LONGHAUL_POSTGRES_PASSWORD'], `/${longhaulDb['POSTGRES_DB']}`], `${name}: DATABASE_URL`);
    const [host, port] = config.temporalAddress.split(':');
    assert.ok(service(project, host!).ports.some((p) => p.target === Number(port)), `${name}: TEMPORAL_ADDRESS ${config.temporalAddress} is the temporal service`);
    assert.ok(secretBoxFromEnv(containerEnv(s)), `${name}: LONGHAUL_SECRET_KEY opens a secret box`);
  };

  for (const [name, s] of byCommand(project, 'serve')) {
    const { stdout } = await run(process.execPath, [join(root, 'bin/longhaul.js'), ...s.command!, '--help']);
    assert.match(stdout, /^Usage: longhaul serve/, `${name}: a real command`);
    checkEngine(name, s);
    const config = resolveServeConfig({ flags: {}, env: containerEnv(s) });
    assert.equal(config.host, '0.0.0.0', `${name}: reachable from outside its container`);
    assert.equal(config.apiKeys.length, 2);
    assert.equal(s.ports[0]?.target, config.port, `${name}: the published port is the one it listens on`);
    assert.match(s.healthcheck!.test.join(' '), new RegExp(`127\\.0\\.0\\.1:${config.port}/`), `${name}: the healthcheck asks that port`);
    assert.equal(s.user, undefined, `${name}: the image's unprivileged user`);
    assert.throws(() => resolveServeConfig({ flags: {}, env: containerEnv(service(bare, name)) }), /no API key: set LONGHAUL_API_KEYS/, 'no .env: serve refuses to start');
  }

  for (const [name, s] of byCommand(project, 'worker')) {
    const { stdout } = await run(process.execPath, [join(root, 'bin/longhaul.js'), ...s.command!, '--help']);
    assert.match(stdout, /^Usage: longhaul worker/, `${name}: a real command`);
    checkEngine(name, s);
    const env = containerEnv(s);
    assert.equal(resolveWorkerModel({ env }).kind, 'anthropic');
    assert.deepEqual([sandboxLimitsFromEnv(env), graderModelFromEnv(env)], [{}, {}], 'unset optional settings are empty, not malformed');
    assert.match(env['LONGHAUL_LOG_LEVEL'] ?? '', /^(TRACE|DEBUG|INFO|WARN|ERROR)$/);
    assert.throws(() => resolveWorkerModel({ env: containerEnv(service(bare, name)) }), /no model: set ANTHROPIC_API_KEY/, 'no .env: the worker refuses to start');

    assert.equal(s.user, 'root', `${name}: the sandbox driver runs as root`);
    assert.ok(s.cap_add.includes('SYS_ADMIN'), `${name}: mounts session disks`);
    const bind = (target: string) => s.volumes.find((v) => v.type === 'bind' && v.target === target);
    assert.equal(bind('/var/run/docker.sock')?.source, '/var/run/docker.sock');
    assert.equal(bind('/dev')?.source, '/dev', `${name}: loop devices made after it started`);
    const dataDir = resolveDataDir({ env });
    assert.equal(bind(dataDir)?.source, dataDir, `${name}: its data folder ${dataDir} at the same path on the host`);
    assert.equal(bind(dataDir)?.bind?.propagation, 'rshared', `${name}: its disk mounts reach the host`);
    assert.equal(env['LONGHAUL_SANDBOX_IMAGE'], service(project, 'sandbox-image').image);
  }
  assert.equal(service(project, 'sandbox-image').image, DEFAULT_SANDBOX_IMAGE);
  assert.ok(existsSync(join(service(project, 'sandbox-image').build!.context, 'Dockerfile')), 'the sandbox image builds from sandbox/image');
});

test('the Dockerfile copies every file the CLI imports, sends nothing else, and runs the CLI as an unprivileged user', () => {
  const copies = dockerfile.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/));
  const fromStage = (args: string[]) => args.some((arg) => arg.startsWith('--from='));
  const copied = copies.filter((args) => !fromStage(args)).flatMap((args) => args.slice(0, -1).filter((arg) => !arg.startsWith('--')));
  // Built in an earlier stage (the web console's bundle): in the image at its destination.
  const builtInImage = copies.filter(fromStage).map((args) => args.at(-1)!.replace(/^\.\//, '').replace(/\/$/, ''));
  for (const source of copied) {
    assert.ok(existsSync(join(root, source)), `COPY ${source}: no such file`);
    assert.ok(inBuildContext(dockerignore, source), `COPY ${source}: left out of the context by .dockerignore`);
  }
  for (const secret of ['.env', '.longhaul/api-key', 'node_modules/yaml/package.json', '.cache/env.sh', 'test/cli/compose.test.ts']) {
    assert.ok(!inBuildContext(dockerignore, secret), `${secret} must not be sent to the Docker daemon`);
  }
  const isCopied = (file: string) =>
    (inBuildContext(dockerignore, file) && copied.some((source) => file === source || file.startsWith(`${source.replace(/\/$/, '')}/`))) ||
    builtInImage.some((destination) => file === destination || file.startsWith(`${destination}/`));
  // `longhaul setup` prepares a development machine (Node, Docker, the Temporal CLI); the image is past that.
  // Node's compile cache is made where the CLI may write; in the image, where it may not, the CLI runs without one.
  const devOnly = new Set(['scripts/setup.sh', '.cache/node-compile-cache']);
  for (const file of importClosure('bin/longhaul.js')) assert.ok(isCopied(file) || devOnly.has(file), `${file} is used by the CLI but not in the image`);

  assert.deepEqual(execForm(dockerfile.find((i) => i.keyword === 'ENTRYPOINT')), ['longhaul']);
  assert.deepEqual(execForm(dockerfile.find((i) => i.keyword === 'CMD')), ['serve']);
  assert.ok(dockerfile.some((i) => i.keyword === 'RUN' && i.args.includes(`ln -s ${WORKDIR}/bin/longhaul.js /usr/local/bin/longhaul`)), 'longhaul is on PATH');
  assert.ok(statSync(join(root, 'bin/longhaul.js')).mode & 0o111, 'bin/longhaul.js is executable');
  assert.notEqual(dockerfile.findLast((i) => i.keyword === 'USER')?.args ?? 'root', 'root');

  const baseNodeMajor = Number(/node:(\d+)/.exec(dockerfile.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='))!.args)?.[1]);
  const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  assert.ok(baseNodeMajor >= Number(/(\d+)/.exec(engines)?.[1]), `node:${baseNodeMajor} satisfies engines ${engines}`);

  // longhaul-setup copies the executor from where the worker in the image looks for it, to the same path on the host.
  const executorInImage = join(WORKDIR, relative(root, DEFAULT_EXECUTOR_DIR));
  const setup = service(project, 'longhaul-setup');
  assert.equal(setup.build?.context.replace(/\/$/, ''), root.replace(/\/$/, ''));
  assert.match(setup.entrypoint!.join(' '), new RegExp(`cp -R ${executorInImage}/\\. ${setup.volumes[0]!.target}/`));
  assert.equal(setup.volumes[0]!.source, executorInImage);
});

/** Files reached from `entry` through relative imports (static, side-effect, dynamic, `new URL(…, import.meta.url)`). */
function importClosure(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!/\.[cm]?[jt]s$/.test(file)) return;
    const text = readFileSync(join(root, file), 'utf8');
    const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(?\s*|new URL\(\s*)['"](\.{1,2}\/[^'"]*)['"]/g)].map((m) => m[1]!);
    for (const specifier of specifiers) {
      const target = relative(root, join(root, file, '..', specifier));
      if (existsSync(join(root, target))) visit(target.replace(/\/$/, ''));
    }
  };
  visit(entry);
  return [...seen];
}

type DockerResult = { code: number; stdout: string; stderr: string };
async function docker(args: string[]): Promise<DockerResult> {
  try {
    const { stdout, stderr } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
async function dockerOk(args: string[]): Promise<string> {
  const result = await docker(args);
  assert.equal(result.code, 0, `docker ${args.slice(0, 3).join(' ')} … failed:\n${result.stderr}`);
  return result.stdout;
}

/**
 * The image, built once per run: on a base made here from the sandbox image (Debian
 * bookworm, as node:24-bookworm-slim) with this Node and the machine's npm, and the
 * machine's CA bundle for a network that intercepts TLS. Layer cache makes reruns quick.
 */
let built: Promise<number> | undefined;
function buildImage(): Promise<number> {
  built ??= (async () => {
    const context = join(scratch, 'base');
    await mkdir(context);
    // The npm package this machine runs (`npm root -g` would answer for this Node's prefix, which has none).
    const npmDir = join(realpathSync((await run('sh', ['-c', 'command -v npm'])).stdout.trim()), '..', '..');
    await cp(process.execPath, join(context, 'node'));
    await cp(npmDir, join(context, 'npm'), { recursive: true });
    const caBundle = '/etc/ssl/certs/ca-certificates.crt';
    await writeFile(join(context, 'ca.crt'), existsSync(caBundle) ? await readFile(caBundle) : '');
    await writeFile(
      join(context, 'Dockerfile'),
      [
        `FROM ${DEFAULT_SANDBOX_IMAGE}`,
        'USER root',
        'COPY node /usr/local/bin/node',
        'COPY npm /usr/local/lib/node_modules/npm',
        'COPY ca.crt /usr/local/share/longhaul-test-ca.crt',
        'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm',
        'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/longhaul-test-ca.crt',
        'WORKDIR /',
        '',
      ].join('\n'),
    );
    const previous = (await docker(['image', 'inspect', '-f', '{{.Id}}', IMAGE])).stdout.trim();
    const started = Date.now();
    await dockerOk(['build', '-q', '-t', BASE_IMAGE, context]);
    await dockerOk(['build', '-q', '-t', IMAGE, '--build-arg', `NODE_IMAGE=${BASE_IMAGE}`, root]);
    const current = (await dockerOk(['image', 'inspect', '-f', '{{.Id}}', IMAGE])).trim();
    // The image this one replaced is only dead weight now (its shared layers stay).
    if (previous && previous !== current) await docker(['image', 'rm', previous]);
    return Date.now() - started;
  })();
  return built;
}

test('the image builds, runs the CLI, serves unprivileged, refuses to serve without keys, bundles the workflows and has the web console', { timeout: 600_000 }, async (t) => {
  t.diagnostic(`image built in ${await buildImage()} ms (base ${BASE_IMAGE}, a stand-in for the Dockerfile's default)`);
  const help = await dockerOk(['run', '--rm', IMAGE, '--help']);
  assert.match(help, /serve \[options\]/);
  assert.match(help, /worker \[options\]/);

  const noKeys = await docker(['run', '--rm', '-e', 'DATABASE_URL=postgres://longhaul@longhaul-postgres/longhaul', IMAGE]);
  assert.equal(noKeys.code, 2, `default command is serve, which refuses to start without keys:\n${noKeys.stdout}${noKeys.stderr}`);
  assert.match(noKeys.stderr, /no API key: set LONGHAUL_API_KEYS/);

  const probe = `
    const { DEFAULT_EXECUTOR_DIR } = await import('${WORKDIR}/sandbox/docker-sandbox-driver.ts');
    const { bundleLonghaulWorkflows } = await import('${WORKDIR}/src/worker/create-worker.ts');
    const { consoleBundleExists } = await import('${WORKDIR}/src/api/console-routes.ts');
    const bundle = await bundleLonghaulWorkflows();
    console.log(JSON.stringify({ uid: process.getuid(), executorDir: DEFAULT_EXECUTOR_DIR, bundleBytes: bundle.code.length, console: consoleBundleExists() }));`;
  const out = JSON.parse((await dockerOk(['run', '--rm', '--entrypoint', 'node', IMAGE, '--input-type=module', '-e', probe])).trim().split('\n').at(-1)!) as { uid: number; executorDir: string; bundleBytes: number; console: boolean };
  assert.notEqual(out.uid, 0, 'serve runs unprivileged');
  assert.equal(out.executorDir.replace(/\/$/, ''), join(WORKDIR, 'sandbox/executor'), 'where longhaul-setup copies the executor from');
  assert.ok(out.bundleBytes > 100_000, 'the worker can bundle its workflows with production dependencies only');
  assert.equal(out.console, true, 'the web console was built into the image');
});

test('a worker container set up as compose sets it up runs a sandbox on its own disk, which a second worker container adopts', { timeout: 600_000 }, async (t) => {
  await buildImage();
  // The compose worker's data folder, on a shared mount (rshared needs one; / is private on some hosts).
  const dataDir = await mkdtemp(join(tmpdir(), 'longhaul-compose-worker-'));
  await run('mount', ['--bind', dataDir, dataDir]);
  await run('mount', ['--make-rshared', dataDir]);
  const sessionId = `tcompose-${process.pid}`;
  t.after(async () => {
    await removeSessionSandboxes(join(dataDir, 'sandboxes'), [sessionId]);
    unmountDisksUnder(dataDir);
    await run('umount', [dataDir]);
    await rm(dataDir, { recursive: true, force: true });
  });
  const configured = await load({ ...DOTENV, LONGHAUL_WORKER_DIR: dataDir, LONGHAUL_SANDBOX_DISK_MB: '64' }, 'worker.env');
  const worker = service(configured, 'worker');
  const setup = service(configured, 'longhaul-setup');

  // longhaul-setup's own command, into this test's folder instead of /opt/longhaul on the host.
  const executorDir = join(dataDir, 'executor');
  await mkdir(executorDir);
  await dockerOk(['run', '--rm', '--network', 'none', '--user', setup.user ?? 'root', '--mount', `type=bind,source=${executorDir},target=${setup.volumes[0]!.target}`, '--entrypoint', setup.entrypoint![0]!, IMAGE, ...setup.entrypoint!.slice(1)]);
  assert.equal(readFileSync(join(executorDir, 'executor.py'), 'utf8'), readFileSync(join(DEFAULT_EXECUTOR_DIR, 'executor.py'), 'utf8'));

  // What `longhaul worker` builds its sandbox driver from (worker-command.ts), then one tool call.
  const script = `
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    const { join } = await import('node:path');
    const { DockerSandboxDriver } = await import('${WORKDIR}/sandbox/docker-sandbox-driver.ts');
    const { resolveDataDir } = await import('${WORKDIR}/src/config/dev-config.ts');
    const { sandboxLimitsFromEnv } = await import('${WORKDIR}/src/config/sandbox-config.ts');
    const [sessionId, command, then] = process.argv.slice(1);
    const driver = new DockerSandboxDriver({ dataDir: join(resolveDataDir(), 'sandboxes'), image: process.env.LONGHAUL_SANDBOX_IMAGE, executorDir: ${JSON.stringify(executorDir)}, ...sandboxLimitsFromEnv(process.env) });
    const sandbox = await driver.ensure({ sessionId, networking: { type: 'limited' } });
    const outcome = await sandbox.runTool({ toolUseId: 'toolu_' + Date.now(), name: 'bash', input: { command } });
    if (then === 'destroy') await driver.destroy(sessionId, { removeVolume: true });
    await driver.close();
    console.log(JSON.stringify(outcome));`;
  const asWorker = async (command: string, then = '') => {
    const stdout = await dockerOk([...composeRunArgs(worker), '--entrypoint', 'node', IMAGE, '--input-type=module', '-e', script, sessionId, command, then]);
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1)!) as { is_error: boolean; content: { text: string }[] };
    assert.equal(outcome.is_error, false, stdout);
    return outcome.content.map((c) => c.text).join('');
  };

  const df = await asWorker('df -m /workspace | tail -1 && echo written-by-worker-1 > /workspace/proof');
  const sizeMb = Number(/^\/dev\/loop\d+\s+(\d+)/m.exec(df)?.[1]);
  assert.ok(sizeMb > 0 && sizeMb <= 64, `/workspace is the session's 64 MiB disk:\n${df}`);
  const diskMount = join(dataDir, 'sandboxes', '.session-disks', sessionId, 'mnt');
  assert.ok(await isMountPoint(diskMount), 'the disk the worker container mounted is mounted on the host');

  assert.equal((await asWorker('cat /workspace/proof', 'destroy')).trim(), 'written-by-worker-1', 'the second worker adopts the sandbox and its disk');
  assert.ok(!(await isMountPoint(diskMount)), 'its unmount reaches the host too');
  assert.equal((await dockerOk(['ps', '-aq', '--filter', `label=longhaul.session=${sessionId}`])).trim(), '');
});

/** `docker run` flags for what a compose service sets about its container (user, privileges, mounts, environment). */
function composeRunArgs(s: ComposeService): string[] {
  const args = ['run', '--rm'];
  if (s.user) args.push('--user', s.user);
  if (s.init) args.push('--init');
  for (const cap of s.cap_add) args.push('--cap-add', cap);
  for (const option of s.security_opt) args.push('--security-opt', option);
  for (const rule of s.device_cgroup_rules) args.push('--device-cgroup-rule', rule);
  for (const volume of s.volumes) {
    assert.equal(volume.type, 'bind', `${volume.target}: only bind mounts are translated`);
    const propagation = volume.bind?.propagation ? `,bind-propagation=${volume.bind.propagation}` : '';
    args.push('--mount', `type=bind,source=${volume.source},target=${volume.target}${propagation}${volume.read_only ? ',readonly' : ''}`);
  }
  for (const [name, value] of Object.entries(s.environment)) if (value !== null) args.push('-e', `${name}=${value}`);
  return args;
}
