/**
 * Environment packages on real Docker: a tiny wheel built here, served from a PEP 503
 * index on this machine, installed into a derived image through the install step's
 * egress proxy (the index is the configured pip mirror), cached per package set.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PACKAGE_IMAGE_REPOSITORY } from '../../sandbox/packages/package-image-builder.ts';
import { SandboxStartError } from '../../sandbox/types.ts';
import { createSandboxFixture, exec, type SandboxFixture, text, toolUseId } from './sandbox-fixture.ts';

// The probe's name is new for every run: no image cached by an earlier run can
// stand in for the build, and the images this run builds are its own to remove.
const marker = randomBytes(4).toString('hex');
const PROJECT = `longhaul-probe-${marker}`;
const MODULE = `longhaul_probe_${marker}`;
const WHEEL = `${MODULE}-1.0-py3-none-any.whl`;
const MIRROR = 'pypi-mirror.example.com';

let fixture: SandboxFixture;
let index: Server;
let wheelDir: string;
const requests: string[] = [];
const infoLogs: { message: string; meta: Record<string, unknown> | undefined }[] = [];

/** Builds the wheel with the standard library's zipfile: a wheel is a zip with a dist-info folder. */
async function buildWheel(dir: string): Promise<Buffer> {
  const script = `
import base64, hashlib, sys, zipfile
out, marker, project, module = sys.argv[1:5]
info = f"{module}-1.0.dist-info"
files = {
  f"{module}/__init__.py": f"MARKER = '{marker}'\\n",
  f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {project}\\nVersion: 1.0\\n",
  f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: longhaul-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
with zipfile.ZipFile(out, "w") as z:
  for name, content in files.items():
    data = content.encode()
    z.writestr(name, data)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{name},sha256={digest},{len(data)}")
  record.append(f"{info}/RECORD,,")
  z.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
`;
  const path = join(dir, WHEEL);
  await exec('python3', ['-c', script, path, marker, PROJECT, MODULE]);
  return readFile(path);
}

/** A PEP 503 simple index with one project; every other project is a 404, as on a real index. */
function serveIndex(wheel: Buffer): Server {
  const sha256 = createHash('sha256').update(wheel).digest('hex');
  return createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === `/simple/${PROJECT}/`) {
      res.setHeader('content-type', 'text/html');
      res.end(`<!DOCTYPE html><html><body><a href="/files/${WHEEL}#sha256=${sha256}">${WHEEL}</a></body></html>`);
    } else if (req.url === `/files/${WHEEL}`) {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(wheel);
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
}

const builtImages = new Set<string>();

async function imageOf(containerId: string): Promise<string> {
  const image = (await exec('docker', ['inspect', '--format', '{{.Image}}', containerId])).stdout.trim();
  builtImages.add(image);
  return image;
}

before(async () => {
  wheelDir = await mkdtemp(join(tmpdir(), 'longhaul-wheel-'));
  index = serveIndex(await buildWheel(wheelDir));
  await new Promise<void>((resolve) => index.listen(0, '127.0.0.1', resolve));
  const { port } = index.address() as AddressInfo;
  // The index is on this machine's loopback, under a mirror's name (resolved as
  // /etc/hosts would): the proxy reaches it because a configured mirror counts as
  // named exactly, internal address or not.
  fixture = await createSandboxFixture({
    packageRegistries: { pipIndexUrl: `http://${MIRROR}:${port}/simple/` },
    resolveEgressHost: async (host) => {
      if (host === MIRROR) return ['127.0.0.1'];
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    },
    logger: { debug: () => undefined, info: (message, meta) => infoLogs.push({ message, meta }) },
  });
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
  index?.close();
  for (const image of builtImages) await exec('docker', ['rmi', '-f', image]).catch(() => undefined);
  if (wheelDir) await rm(wheelDir, { recursive: true, force: true });
});

test('pip packages are installed into the sandbox image, built once per package set', async () => {
  const packages = { pip: [`${PROJECT}==1.0`] };
  const first = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('pkg'), { packages }));
  const probe = `python3 -c "import ${MODULE}; print(${MODULE}.MARKER)"`;
  const imported = await first.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: probe } });
  const image = await imageOf(first.containerId);
  assert.match((await exec('docker', ['image', 'inspect', '--format', '{{.RepoTags}}', image])).stdout, new RegExp(`${PACKAGE_IMAGE_REPOSITORY}:`));
  assert.equal(imported.is_error, false, text(imported));
  assert.equal(text(imported), `${marker}\n`);
  assert.equal(fixture.driver.packageImageBuilds, 1);
  assert.ok(requests.includes(`/files/${WHEEL}`), 'pip fetched the wheel from the index');

  // The package sits in the image: the sandbox still runs as the agent, on a read-only root.
  const who = await first.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: `id -u; pip3 show ${PROJECT} | head -2` } });
  assert.match(text(who), new RegExp(`^1000\nName: ${PROJECT}\nVersion: 1\\.0`));

  const fetchesBefore = requests.length;
  const started = Date.now();
  const second = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('pkg'), { packages }));
  const secondStartMs = Date.now() - started;
  assert.equal(text(await second.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: probe } })), `${marker}\n`);
  assert.equal(fixture.driver.packageImageBuilds, 1, 'the second session reused the image');
  assert.equal(requests.length, fetchesBefore, 'nothing was fetched again');
  assert.ok(secondStartMs < 10_000, `second start took ${secondStartMs} ms`);

  assert.equal(await imageOf(first.containerId), await imageOf(second.containerId));
  // A new worker (another driver, empty memory) finds the image in Docker instead of building.
  const otherWorker = fixture.newDriver();
  await otherWorker.ensure(fixture.spec(fixture.newSessionId('pkg'), { packages }));
  assert.equal(otherWorker.packageImageBuilds, 0);
  assert.equal(infoLogs.filter((l) => l.message === 'built sandbox package image').length, 1);

  // The image keeps the base image's user, command and working folder, and none of the install step's proxy settings.
  const { stdout } = await exec('docker', ['image', 'inspect', '--format', '{{json .Config}}', await imageOf(first.containerId)]);
  const config = JSON.parse(stdout) as { User: string; Cmd: string[]; WorkingDir: string; Env: string[]; Labels: Record<string, string> };
  assert.equal(config.User, 'agent');
  assert.deepEqual(config.Cmd, ['sleep', 'infinity']);
  assert.equal(config.WorkingDir, '/workspace');
  assert.ok(!config.Env.some((e) => /proxy/i.test(e)), config.Env.join(' '));
  assert.equal(config.Labels['longhaul.role'], 'environment-image');
});

test('concurrent sessions with a new package set share one build', async () => {
  const packages = { pip: [PROJECT] };
  const before = fixture.driver.packageImageBuilds;
  const sandboxes = await Promise.all([0, 1, 2].map(() => fixture.driver.ensure(fixture.spec(fixture.newSessionId('par'), { packages }))));
  assert.equal(fixture.driver.packageImageBuilds, before + 1);
  for (const sandbox of sandboxes) {
    await imageOf(sandbox.containerId);
    const out = await sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: `python3 -c "import ${MODULE}"` } });
    assert.equal(out.is_error, false, text(out));
  }
});

test('a package the index does not have fails the start with an error naming the manager and the package', async () => {
  const started = fixture.driver.ensure(
    fixture.spec(fixture.newSessionId('bad'), { packages: { pip: [`${PROJECT}==1.0`, 'longhaul-no-such-package==9.9'] } }),
  );
  await assert.rejects(started, (error: unknown) => {
    assert.ok(error instanceof SandboxStartError, String(error));
    assert.equal(error.code, 'packages_failed');
    assert.match(error.message, /^pip could not install the environment's package longhaul-no-such-package==9\.9:/);
    assert.match(error.message, /No matching distribution found for longhaul-no-such-package==9\.9/);
    return true;
  });
  assert.ok(requests.includes('/simple/longhaul-no-such-package/'));
  // Nothing is left behind: no build container, no image for the failed set.
  const { stdout } = await exec('docker', ['ps', '-aq', '--filter', 'label=longhaul.role=package-build']);
  assert.equal(stdout.trim(), '');
});

test('a package entry that looks like an option is refused before anything runs', async () => {
  await assert.rejects(
    fixture.driver.ensure(fixture.spec(fixture.newSessionId('opt'), { packages: { apt: ['-oAPT::Update::Pre-Invoke::=touch /x'] } })),
    (error: unknown) => error instanceof SandboxStartError && error.code === 'packages_failed' && /apt package .* starts with "-"/.test(error.message),
  );
});

test('allow_package_managers lets a limited sandbox reach the configured mirror (pip is set up for it); without it the mirror is refused', async () => {
  const download = `cd /tmp && pip3 download --no-deps --disable-pip-version-check -q ${PROJECT}==1.0 2>&1; ls /tmp/*.whl 2>&1`;
  const allowed = await fixture.driver.ensure(
    fixture.spec(fixture.newSessionId('pm'), { networking: { type: 'limited', allowed_hosts: [], allow_package_managers: true } }),
  );
  const fetched = await allowed.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command: download } });
  assert.equal(text(fetched).trim(), `/tmp/${WHEEL}`);

  const refused = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('pm'), { networking: { type: 'limited', allowed_hosts: [] } }));
  const denied = await refused.runTool({
    toolUseId: toolUseId(),
    name: 'bash',
    input: { command: `curl -sS -w ' %{http_code}' http://${MIRROR}:${(index.address() as AddressInfo).port}/simple/${PROJECT}/` },
  });
  assert.match(text(denied), /not in this environment's allowed_hosts\n 403$/);
});
