import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { DockerSandbox } from '../../sandbox/docker-sandbox.ts';
import type { ToolOutcome } from '../../sandbox/types.ts';
import { createSandboxFixture, exec, type SandboxFixture, text, toolUseId } from './sandbox-fixture.ts';

let fixture: SandboxFixture;
let limited: DockerSandbox;

before(async () => {
  fixture = await createSandboxFixture();
  limited = await fixture.driver.ensure(
    fixture.spec(fixture.newSessionId('hard'), { memoryMb: 256, pidsLimit: 64, cpus: 0.5 }),
  );
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
});

function bash(sandbox: DockerSandbox, command: string, timeoutMs = 30_000): Promise<ToolOutcome> {
  return sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command, timeout_ms: timeoutMs } });
}

async function inspect(containerId: string): Promise<{
  HostConfig: { Memory: number; MemorySwap: number; PidsLimit: number; NanoCpus: number; Init: boolean; NetworkMode: string };
}> {
  const { stdout } = await exec('docker', ['inspect', containerId]);
  return (JSON.parse(stdout) as [never])[0];
}

test('runs as uid 1000 with no capabilities and no-new-privileges', async () => {
  const out = text(await bash(limited, 'id -u; id -g; grep -E "^(CapEff|CapPrm|NoNewPrivs):" /proc/self/status'));
  assert.match(out, /^1000\n1000\n/);
  assert.match(out, /CapEff:\s+0000000000000000/);
  assert.match(out, /CapPrm:\s+0000000000000000/);
  assert.match(out, /NoNewPrivs:\s+1/);
});

test('the root filesystem is read-only; /workspace, /tmp and home are writable', async () => {
  const denied = await bash(limited, 'touch /usr/local/bin/x');
  assert.equal(denied.is_error, true);
  assert.match(text(denied), /Read-only file system|Permission denied/);
  const allowed = await bash(limited, 'touch /workspace/w /tmp/t "$HOME/h" && echo ok');
  assert.equal(text(allowed), 'ok\n');
});

test('docker init is PID 1 and the limits are set on the container', async () => {
  const { HostConfig } = await inspect(limited.containerId);
  assert.equal(HostConfig.Init, true);
  assert.equal(HostConfig.Memory, 256 * 1024 * 1024);
  assert.equal(HostConfig.MemorySwap, 256 * 1024 * 1024);
  assert.equal(HostConfig.PidsLimit, 64);
  assert.equal(HostConfig.NanoCpus, 0.5e9);
  assert.equal(HostConfig.NetworkMode, 'none');
  assert.match(text(await bash(limited, 'cat /proc/1/cmdline | tr "\\0" " "')), /docker-init/);
  const limit = text(
    await bash(limited, 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'),
  );
  assert.equal(limit.trim(), String(256 * 1024 * 1024));
});

test('the memory limit kills a process that exceeds it, and the sandbox survives', async () => {
  const outcome = await bash(limited, 'python3 -c "b = bytearray(600 * 1024 * 1024); print(len(b))"');
  assert.equal(outcome.is_error, true);
  assert.match(text(outcome), /exit code 137|Killed|MemoryError/);
  assert.equal(text(await bash(limited, 'echo alive')), 'alive\n');
});

test('the pids limit caps a fork loop without hurting the host', async () => {
  // Python rather than a bash loop: bash retries a failed fork with growing back-off.
  const forkLoop = [
    'import os, time',
    'n = 0',
    'try:',
    '    while n < 500:',
    '        if os.fork() == 0:',
    '            time.sleep(30)',
    '            os._exit(0)',
    '        n += 1',
    'except OSError as e:',
    '    print("fork failed after", n, e.strerror)',
  ].join('\n');
  const outcome = await bash(limited, `python3 -c '${forkLoop}'; ps -e --no-headers | wc -l`, 20_000);
  assert.match(text(outcome), /fork failed after \d+/);
  const processes = Number.parseInt(text(outcome).split('\n').at(-2) ?? '', 10);
  assert.ok(processes <= 64, `saw ${processes} processes`);
  assert.ok(processes > 10, `saw ${processes} processes`);
  // Restarting the shell kills the loop's leftovers; the sandbox stays usable.
  await limited.runTool({ toolUseId: toolUseId(), name: 'bash', input: { restart: true } });
  assert.equal(text(await bash(limited, 'pgrep -c sleep || true')), '0\n');
});

test('limited has no network but loopback: nothing on the host is reachable directly, the egress proxy refuses unlisted hosts; unrestricted reaches it', async () => {
  let hits = 0;
  const server: Server = createServer((_, res) => {
    hits += 1;
    res.end('host-ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const open = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('net'), { networking: { type: 'unrestricted' } }));
    // The docker bridge's gateway is the host as seen from a bridged container.
    const { stdout } = await exec('docker', ['inspect', '--format', '{{.NetworkSettings.Gateway}}', open.containerId]);
    const gateway = stdout.trim();
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);

    for (const target of ['127.0.0.1:7233', `${gateway}:7233`, `${gateway}:${port}`]) {
      const outcome = await bash(limited, `curl -sS --noproxy '*' --max-time 2 http://${target}/`);
      assert.equal(outcome.is_error, true, `reached ${target}: ${text(outcome)}`);
    }
    // Through its proxy (the environment's default route), an unlisted host is refused.
    const proxied = await bash(limited, `curl -sS -w ' %{http_code}' --max-time 5 http://${gateway}:${port}/`);
    assert.match(text(proxied), /is not in this environment's allowed_hosts\n 403$/);
    assert.equal(hits, 0);
    assert.match(text(await bash(limited, 'cat /proc/net/dev')), /lo:/);
    assert.doesNotMatch(text(await bash(limited, 'cat /proc/net/dev')), /eth0/);

    // The control: the same request from a sandbox with networking succeeds, so the
    // failures above come from the isolation, not from the test.
    const reached = await bash(open, `curl -sS --max-time 5 http://${gateway}:${port}/`);
    assert.equal(text(reached), 'host-ok');
  } finally {
    server.close();
  }
});
