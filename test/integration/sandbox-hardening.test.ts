import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
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
  const outcome = await bash(limited, `python3 -c '${forkLoop}'; sleep 10`, 20_000);
  // Near the cap the executor kills every process of the agent, and says so.
  assert.equal(outcome.is_error, true);
  assert.match(text(outcome), /reached its limit of 64 processes: every process in it was killed/);
  assert.equal(text(await bash(limited, 'pgrep -c sleep || true')), '0\n');
});

test('no sandbox has a network interface: limited and unrestricted both leave only through the proxy, which keeps the host shut', async () => {
  let hits = 0;
  const server: Server = createServer((_, res) => {
    hits += 1;
    res.end('host-ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const open = await fixture.driver.ensure(fixture.spec(fixture.newSessionId('net'), { networking: { type: 'unrestricted' } }));
    for (const sandbox of [limited, open]) {
      const { HostConfig } = await inspect(sandbox.containerId);
      assert.equal(HostConfig.NetworkMode, 'none');
      const devices = text(await bash(sandbox, 'cat /proc/net/dev'));
      assert.match(devices, /lo:/);
      assert.doesNotMatch(devices, /eth0/);
    }
    // This host's own addresses (the Docker bridge's gateway among them), loopback and
    // cloud metadata: refused by the proxy before it connects anywhere.
    const own = Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => entry.family === 'IPv4' && !entry.internal)
      .map((entry) => entry.address);
    for (const target of [...own.map((address) => `${address}:${port}`), '169.254.169.254:80']) {
      const refused = await bash(open, `curl -sS -w ' %{http_code}' --max-time 5 http://${target}/`);
      assert.match(text(refused), /internal address .* 403$/s, `${target}: ${text(refused)}`);
      const tunnel = await bash(open, `curl -sS --max-time 5 https://${target}/ 2>&1; true`);
      assert.match(text(tunnel), /403|CONNECT/, `${target}: ${text(tunnel)}`);
    }
    const limitedRefused = await bash(limited, `curl -sS -w ' %{http_code}' --max-time 5 http://${own[0]}:${port}/`);
    assert.match(text(limitedRefused), /is not in this environment's allowed_hosts\n 403$/);
    assert.equal(hits, 0);
  } finally {
    server.close();
  }
});
