/**
 * The warm pool on real Docker: a new session claims a container started ahead of it,
 * and gets exactly what a cold start would have made (mounts, limits, user, egress);
 * its files, journal and isolation behave as a cold sandbox's; two drivers on one data
 * folder never hand out the same container; a released sandbox never returns to the
 * pool; specs a pre-started container cannot serve start cold; and closing (or a killed
 * driver's successor) leaves no container, disk, mount, loop device or folder behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type Dockerode from 'dockerode';
import { getContainerRuntimeClient } from 'testcontainers';
import type { DockerSandboxDriver } from '../../sandbox/docker-sandbox-driver.ts';
import { findSessionContainers } from '../../sandbox/session-containers.ts';
import { stopDevSandboxes } from '../../src/cli/stop-dev-sandboxes.ts';
import type { DockerSandbox } from '../../sandbox/docker-sandbox.ts';
import type { SandboxSpec } from '../../sandbox/types.ts';
import { eventually } from '../support/eventually.ts';
import { createSandboxFixture, SANDBOX_IMAGE, type SandboxFixture, text, toolUseId } from './sandbox-fixture.ts';

const ALLOWED = 'allowed.example.com';

let fixture: SandboxFixture;
let docker: Dockerode;
let server: Server;
let port: number;

before(async () => {
  server = createServer((_req, res) => res.end('reached\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  // The proxy (in this process) reaches the test's server by name, as /etc/hosts would.
  fixture = await createSandboxFixture({ warmPoolSize: 2, resolveEgressHost: async (host) => (host === ALLOWED ? ['127.0.0.1'] : []) });
  docker = (await getContainerRuntimeClient()).container.dockerode;
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
  server?.close();
});

function limitedSpec(sessionId: string, extra: Partial<SandboxSpec> = {}): SandboxSpec {
  return fixture.spec(sessionId, { networking: { type: 'limited', allowed_hosts: [`${ALLOWED}:${port}`] }, ...extra });
}

async function warmedUp(driver: DockerSandboxDriver, count = 2): Promise<void> {
  // Asked for again at every look, as each new session does: a pool whose start failed (a
  // busy host's loop devices, a slow executor) refills only once its kind is asked for again.
  await eventually(`${count} warm containers`, () => (driver.warmUp(), driver.warmSandboxes >= count), { everyMs: 20 });
}

async function bash(sandbox: DockerSandbox, command: string): Promise<string> {
  return text(await sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command } }));
}

/** How the container was made: from the pool (it keeps the pool's label) or cold (the session's label). */
async function origin(sandbox: DockerSandbox): Promise<'warm' | 'cold'> {
  const { Name, Config } = await docker.getContainer(sandbox.containerId).inspect();
  assert.equal(Name, `/longhaul-sbx-${sandbox.sessionId}`, 'the container has the session name');
  return Config.Labels['longhaul.warm'] !== undefined ? 'warm' : 'cold';
}

/** The sandbox's limits as its cgroup files say (v2, or v1 on older hosts). */
const LIMITS = 'memory.max memory.swap.max cpu.max cpu.weight pids.max memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.shares pids/pids.max';

/**
 * What the session sees of its sandbox: user, folders and their mounts, limits, capabilities,
 * environment and egress. Only what differs between any two sandboxes is left out (times, devices).
 */
const PROBE = `
id; pwd; hostname
grep -E '^(Cap(Prm|Eff|Bnd)|NoNewPrivs)' /proc/self/status
env | grep -vE '^(_|SHLVL|OLDPWD)=' | sort
awk '{ print $4, $5, $6 }' /proc/self/mountinfo | grep -E ' /(workspace|mnt/session|run/longhaul|etc/longhaul|opt/longhaul/executor|tmp|var/tmp|home/agent) ' | sort
for f in ${LIMITS}; do [ -e /sys/fs/cgroup/$f ] && echo "$f $(cat /sys/fs/cgroup/$f)"; done
df -B1M --output=size,target /workspace /mnt/session /tmp /home/agent | tail -n +2
stat -c '%n %U %G %a' /workspace /mnt/session /etc/longhaul /run/longhaul
ls -A /workspace /mnt/session /etc/longhaul; ls /run/longhaul 2>&1
curl -s -o /dev/null -w 'refused host: %{http_code}\\n' http://other.example.com/
curl -s http://${ALLOWED}:PORT/`;

test('a new session claims a warm container, and it is the sandbox a cold start makes', async () => {
  const cold = fixture.newDriver({ warmPoolSize: 0 });
  await warmedUp(fixture.driver);
  const warmId = fixture.newSessionId('warm');
  const coldId = fixture.newSessionId('cold');
  const fromPool = await fixture.driver.ensure(limitedSpec(warmId));
  const started = await cold.ensure(limitedSpec(coldId));
  assert.equal(await origin(fromPool), 'warm');
  assert.equal(await origin(started), 'cold');
  assert.deepEqual((await findSessionContainers(docker, warmId)).map((c) => c.Id), [fromPool.containerId], 'found as the session’s');
  // The claim renamed the slot's disk folder, mount and all: one host mount of the disk, under the session's name.
  const hostMounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => line.split(' '));
  const disk = hostMounts.filter((fields) => fields[4] === realpathSync(join(fixture.dataDir, '.session-disks', warmId, 'mnt')));
  assert.equal(disk.length, 1, 'the session’s disk is mounted');
  assert.deepEqual(hostMounts.filter((fields) => fields[2] === disk[0]![2]).map((fields) => fields[4]), [disk[0]![4]], 'and nowhere else on the host');

  const probe = PROBE.replace('PORT', String(port));
  // The host folder's path shows in the mount table: the same but for the session id.
  const [seenWarm, seenCold] = [(await bash(fromPool, probe)).replaceAll(warmId, '<id>'), (await bash(started, probe)).replaceAll(coldId, '<id>')];
  assert.match(seenWarm, /uid=1000\(agent\)/);
  assert.match(seenWarm, /refused host: 403/);
  assert.match(seenWarm, /reached/);
  assert.match(seenWarm, / \/workspace rw,nosuid,nodev,noatime/);
  assert.match(seenWarm, /^memory(\.max|\/memory\.limit_in_bytes) 2147483648$/m);
  assert.equal(seenWarm, seenCold);
});

test("the session's files and journal stay across release and ensure, another session sees none of them, and the released container never returns", async () => {
  await warmedUp(fixture.driver);
  const first = fixture.newSessionId('keep');
  const second = fixture.newSessionId('other');
  const sandbox = await fixture.driver.ensure(limitedSpec(first));
  const neighbour = await fixture.driver.ensure(limitedSpec(second));
  assert.deepEqual([await origin(sandbox), await origin(neighbour)], ['warm', 'warm']);
  assert.notEqual(sandbox.containerId, neighbour.containerId);

  const counted = toolUseId();
  const count = { toolUseId: counted, name: 'bash', input: { command: 'echo run >> /workspace/runs; echo kept > /mnt/session/note; wc -l < /workspace/runs' } };
  assert.equal(text(await sandbox.runTool(count)), '1\n');
  assert.equal(await bash(neighbour, 'ls -A /workspace /mnt/session; cat /workspace/runs 2>&1 | head -1'), '/mnt/session:\n\n/workspace:\ncat: /workspace/runs: No such file or directory\n');

  await fixture.driver.destroy(first);
  await assert.rejects(docker.getContainer(sandbox.containerId).inspect(), 'the released container is removed');
  await warmedUp(fixture.driver);
  const again = await fixture.driver.ensure(limitedSpec(first));
  assert.equal(await origin(again), 'cold', 'a session that had a sandbox starts on its own disk, never from the pool');
  assert.equal(fixture.driver.warmSandboxes, 2);
  // The journal answers the same call with its recorded result instead of running it again.
  assert.equal(text(await again.runTool(count)), '1\n');
  assert.equal(await bash(again, 'wc -l < /workspace/runs; cat /mnt/session/note'), '1\nkept\n');
});

test('two drivers on one data folder never hand out the same container; a race for one new session ends on one container', async () => {
  const [a, b] = [fixture.newDriver(), fixture.newDriver()];
  await Promise.all([warmedUp(a), warmedUp(b)]);
  const ids = ['pair-a', 'pair-b', 'pair-c', 'pair-d'].map((label) => fixture.newSessionId(label));
  const sandboxes = await Promise.all(ids.map((id, i) => (i % 2 === 0 ? a : b).ensure(limitedSpec(id))));
  assert.equal(new Set(sandboxes.map((s) => s.containerId)).size, 4);
  for (const sandbox of sandboxes) assert.equal(await origin(sandbox), 'warm');

  await Promise.all([warmedUp(a), warmedUp(b)]);
  const raced = fixture.newSessionId('raced');
  const [fromA, fromB] = await Promise.all([a.ensure(limitedSpec(raced)), b.ensure(limitedSpec(raced))]);
  assert.equal(fromA.containerId, fromB.containerId);
  assert.deepEqual((await findSessionContainers(docker, raced)).map((c) => c.Id), [fromA.containerId]);
  await fromA.runTool({ toolUseId: toolUseId(), name: 'write', input: { file_path: 'seen.txt', content: 'one disk' } });
  assert.equal(await bash(fromB, 'cat /workspace/seen.txt'), 'one disk');

  // A claim racing the same session's cold start in a driver without a pool.
  await warmedUp(a);
  const mixed = fixture.newSessionId('mixed');
  const [warm, cold] = await Promise.all([a.ensure(limitedSpec(mixed)), fixture.newDriver({ warmPoolSize: 0 }).ensure(limitedSpec(mixed))]);
  assert.equal(warm.containerId, cold.containerId);
  assert.deepEqual((await findSessionContainers(docker, mixed)).map((c) => c.Id), [warm.containerId]);
  await warm.runTool({ toolUseId: toolUseId(), name: 'write', input: { file_path: 'seen.txt', content: 'one disk' } });
  assert.equal(await bash(cold, 'cat /workspace/seen.txt'), 'one disk');
});

test('specs a pre-started container cannot serve exactly start cold; a new kind of sandbox is kept warm once asked for', async () => {
  await warmedUp(fixture.driver);
  const secrets = await fixture.driver.ensure(
    limitedSpec(fixture.newSessionId('secret'), { egress: { secrets: [{ name: 'API_KEY', value: 'sk-warm-test', hosts: [ALLOWED], header: true, body: false }] } }),
  );
  const memory = await fixture.driver.ensure(limitedSpec(fixture.newSessionId('memory'), { memory: [{ slug: 'notes', readOnly: false }] }));
  const smaller = await fixture.driver.ensure(limitedSpec(fixture.newSessionId('small'), { memoryMb: 1024 }));
  assert.deepEqual([await origin(secrets), await origin(memory), await origin(smaller)], ['cold', 'cold', 'cold']);
  assert.match(await bash(secrets, 'echo $API_KEY'), /^longhaul_secret_placeholder_/);

  // Asked for once, that kind is kept warm too: the next such session gets one at once.
  await eventually('a pool of the smaller kind as well', () => fixture.driver.warmSandboxes >= 4, { everyMs: 20 });
  const next = await fixture.driver.ensure(limitedSpec(fixture.newSessionId('small2'), { memoryMb: 1024 }));
  assert.equal(await origin(next), 'warm');
  assert.equal(await bash(next, 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'), `${1024 * 1024 * 1024}\n`);
});

test("closing a driver removes its warm containers, disks, mounts and folders; a killed driver's pool is removed by the next driver", async () => {
  await using own = await createSandboxFixture({ warmPoolSize: 2 });
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { DockerSandboxDriver } = await import(${JSON.stringify(new URL('../../sandbox/docker-sandbox-driver.ts', import.meta.url).href)});
       const driver = new DockerSandboxDriver({ dataDir: ${JSON.stringify(own.dataDir)}, image: ${JSON.stringify(SANDBOX_IMAGE)}, warmPoolSize: 2 });
       driver.warmUp();
       while (driver.warmSandboxes < 2) await new Promise((resolve) => setTimeout(resolve, 20));
       console.log('ready');
       setInterval(() => {}, 60_000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => [Buffer.from('exited')])])) as [Buffer];
  assert.equal(line.toString().trim(), 'ready');
  await warmedUp(own.driver);
  const claimed = own.newSessionId('claimed');
  await own.driver.ensure(own.spec(claimed));
  child.kill('SIGKILL');
  await once(child, 'exit');
  const before = await leftovers(own.dataDir);
  // The killed driver's two, the session's, and what is left of (or refilling) this driver's pool.
  assert.ok(before.containers.length >= 4, `both pools and the session are there: ${JSON.stringify(before)}`);

  await own.driver.destroy(claimed, { removeVolume: true });
  await own.driver.close();
  let left = await leftovers(own.dataDir);
  // Loop devices are let go by the kernel a moment after their last unmount.
  await eventually('nothing left of either pool', async () => {
    left = await leftovers(own.dataDir);
    return Object.values(left).every((found) => found.length === 0);
  }, { timeoutMs: 30_000, everyMs: 200 }).catch((error: unknown) => assert.fail(`${String(error)}: ${JSON.stringify(left)}`));
});

test('a burst of new sessions grows the pool to its size, up to the maximum, so the next burst starts warm; it shrinks back once the burst is old', async () => {
  // Always spare CPU: on a test machine busy with other tests the real gauge would only make growth later.
  await using own = await createSandboxFixture({ warmPoolSize: 1, warmPoolMax: 3, warmPoolTuning: { demandHoldMs: 4_000, spareCpu: async () => true } });
  const warmContainers = async () => (await leftovers(own.dataDir)).containers.filter((name) => name.startsWith('/longhaul-warm-')).length;
  const burst = async (label: string, size: number) =>
    Promise.all(Array.from({ length: size }, async (_, i) => origin(await own.driver.ensure(own.spec(own.newSessionId(`${label}${i}`))))));
  await warmedUp(own.driver, 1);

  // Four new sessions at once, with one warm: the pool grows to three (its maximum), not four.
  assert.deepEqual((await burst('first', 4)).sort(), ['cold', 'cold', 'cold', 'warm']);
  await eventually('the pool grown to its maximum', () => own.driver.warmSandboxes === 3, { timeoutMs: 30_000, everyMs: 50 });
  assert.equal(await warmContainers(), 3, 'and no more containers than that');

  // A second burst of three is served warm.
  assert.deepEqual(await burst('second', 3), ['warm', 'warm', 'warm']);
  await eventually('refilled to three', () => own.driver.warmSandboxes === 3, { timeoutMs: 30_000, everyMs: 50 });

  // Once the bursts are older than the hold, the pool gives back all but its floor.
  await eventually('back to its floor of one', async () => own.driver.warmSandboxes === 1 && (await warmContainers()) === 1, { timeoutMs: 30_000, everyMs: 200 });
  assert.equal(await origin(await own.driver.ensure(own.spec(own.newSessionId('after')))), 'warm', 'the floor still serves');
});

test('without spare CPU the pool keeps its floor and grows no further', async () => {
  await using own = await createSandboxFixture({ warmPoolSize: 1, warmPoolMax: 3, warmPoolTuning: { spareCpu: async () => false } });
  await warmedUp(own.driver, 1);
  await Promise.all([0, 1, 2].map(async (i) => own.driver.ensure(own.spec(own.newSessionId(`busy${i}`)))));
  await eventually('the floor refilled', () => own.driver.warmSandboxes === 1, { timeoutMs: 30_000, everyMs: 50 });
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  assert.equal(own.driver.warmSandboxes, 1, 'no container past the floor while the machine is busy');
});

test('stopping longhaul dev in the middle of a burst leaves no container and no mount: starts under way finish and are removed, those waiting are refused', async () => {
  await using own = await createSandboxFixture({ warmPoolSize: 1, concurrentStarts: 1, warmPoolTuning: { spareCpu: async () => true } });
  await warmedUp(own.driver, 1);
  const ensures = [0, 1, 2, 3, 4].map(async (i) => own.driver.ensure(own.spec(own.newSessionId(`stop${i}`))));
  const outcomes = Promise.allSettled(ensures);
  // One served warm; the cold ones start one at a time, and the pool's refill waits behind them.
  await Promise.race(ensures);
  assert.ok((await stopDevSandboxes(own.driver)) >= 1, 'the sessions that had a container lost it');
  const settled = await outcomes;
  const left = await leftovers(own.dataDir);
  assert.deepEqual({ containers: left.containers, mounts: left.mounts, loopDevices: left.loopDevices }, { containers: [], mounts: [], loopDevices: [] });
  const refused = settled.filter((outcome) => outcome.status === 'rejected');
  assert.ok(refused.length >= 1, 'starts still waiting for their turn were refused');
  for (const outcome of refused) assert.equal((outcome.reason as Error).name, 'StartsStopped', String(outcome.reason));
});

test('a worker that closes its driver in the middle of a burst starts nothing afterwards: starts waiting for their turn are refused', async () => {
  await using own = await createSandboxFixture({ warmPoolSize: 0, concurrentStarts: 1 });
  const ids = [0, 1, 2, 3].map((i) => own.newSessionId(`close${i}`));
  const ensures = ids.map(async (id) => own.driver.ensure(own.spec(id)));
  const outcomes = Promise.allSettled(ensures);
  await Promise.race(ensures);
  // What a worker does when others on the data folder still serve its sessions: their containers stay.
  await own.driver.close();
  const settled = await outcomes;
  const running = async () => (await leftovers(own.dataDir)).containers.filter((name) => ids.some((id) => name === `/longhaul-sbx-${id}`)).length;
  const started = settled.filter((outcome) => outcome.status === 'fulfilled').length;
  assert.ok(started < ids.length, 'starts still waiting for their turn were refused');
  for (const outcome of settled) if (outcome.status === 'rejected') assert.equal((outcome.reason as Error).name, 'StartsStopped', String(outcome.reason));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal(await running(), started, 'a container for each start that finished before the close, and none after it');
});

test('a pool whose start failed tries again after a pause, without a session asking', async () => {
  await using own = await createSandboxFixture({ warmPoolSize: 1 });
  const failures: unknown[] = [];
  // An image this host does not have: every start fails, as a transient failure would once.
  const driver = own.newDriver({
    image: 'longhaul-sandbox-missing:never',
    warmPoolTuning: { retryAfterMs: 200 },
    logger: { debug: () => undefined, info: (message, meta) => (message === 'could not start a warm sandbox' ? failures.push(meta) : undefined) },
  });
  driver.warmUp();
  await eventually('three attempts, one asked for', () => failures.length >= 3, { timeoutMs: 30_000, everyMs: 50 });
  assert.match(JSON.stringify(failures[0]), /longhaul-sandbox-missing:never/);
  assert.equal(driver.warmSandboxes, 0);
  await driver.close();
  assert.deepEqual(await leftovers(own.dataDir), { containers: [], mounts: [], loopDevices: [], files: [] }, 'each failed start left nothing behind');
});

test('diagnostic: ensure of a new session from the warm pool and cold (p50 of 10)', async () => {
  const cold = fixture.newDriver({ warmPoolSize: 0 });
  const timings = { warm: [] as number[], cold: [] as number[] };
  for (let i = 0; i < 10; i++) {
    await warmedUp(fixture.driver);
    let started = performance.now();
    const warm = await fixture.driver.ensure(fixture.spec(fixture.newSessionId(`tw${i}`)));
    timings.warm.push(performance.now() - started);
    started = performance.now();
    await cold.ensure(fixture.spec(fixture.newSessionId(`tc${i}`)));
    timings.cold.push(performance.now() - started);
    assert.equal(await origin(warm), 'warm');
  }
  const p50 = (values: number[]) => Math.round([...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!);
  console.log(`ensure of a new session: warm pool p50 ${p50(timings.warm)} ms (${timings.warm.map(Math.round).join(' ')}), cold p50 ${p50(timings.cold)} ms (${timings.cold.map(Math.round).join(' ')})`);
});

const BURST = Number(process.env['LONGHAUL_WARM_POOL_BURST'] ?? 0);

// A measurement, not a check: only when asked for (LONGHAUL_WARM_POOL_BURST=n), and then not a skipped test in every other run.
if (BURST > 0) test(`diagnostic: ${BURST} new sessions at once, first tool call, paced starts and unpaced`, async () => {
  const percentiles = (values: number[]) => {
    const sorted = [...values].sort((x, y) => x - y);
    const at = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
    return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`;
  };
  for (const concurrentStarts of [3, BURST]) {
    const driver = fixture.newDriver({ concurrentStarts });
    await warmedUp(driver);
    const firstCalls = await Promise.all(
      Array.from({ length: BURST }, async (_, i) => {
        const started = performance.now();
        const sandbox = await driver.ensure(fixture.spec(fixture.newSessionId(`burst${concurrentStarts}-${i}`)));
        await bash(sandbox, 'echo hi');
        return performance.now() - started;
      }),
    );
    console.log(`${BURST} sessions at once, ${concurrentStarts} container starts at a time: first tool call ${percentiles(firstCalls)}`);
    await driver.close();
  }
});

/** What is left on Docker and the host of sandboxes on `dataDir`. */
async function leftovers(dataDir: string): Promise<{ containers: string[]; mounts: string[]; loopDevices: string[]; files: string[] }> {
  const root = realpathSync(dataDir);
  const all = await docker.listContainers({ all: true, filters: { label: ['longhaul=1'] } });
  const inspected = await Promise.all(all.map((c) => docker.getContainer(c.Id).inspect().catch(() => undefined)));
  const containers = inspected.flatMap((c) => (c?.Mounts.some((m) => m.Source.startsWith(root)) ? [c.Name] : []));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((path) => path.startsWith(`${root}/`));
  const loopDevices = readdirSync('/sys/block')
    .filter((name) => name.startsWith('loop'))
    .filter((name) => {
      try {
        return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').startsWith(root);
      } catch {
        return false;
      }
    });
  const files = ['.session-disks', '.disks', '.warm'].flatMap((folder) => {
    try {
      return readdirSync(join(root, folder)).map((name) => `${folder}/${name}`);
    } catch {
      return [];
    }
  });
  return { containers, mounts, loopDevices, files };
}
