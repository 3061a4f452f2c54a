import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/dev-config.ts';
import { sandboxLimitsFromEnv } from '../../src/config/sandbox-config.ts';
import { buildSandboxContainer, SANDBOX_MASKED_PATHS, tmpfsSizeMb } from '../../sandbox/sandbox-container.ts';
import { Wait } from 'testcontainers';

test('tmpfs folders leave 128 MiB of the memory limit: full of files, they cannot starve the executor', () => {
  assert.equal(tmpfsSizeMb({ memoryMb: 2048, tmpfsMb: 512 }), 512, 'the default sandbox keeps its 512 MiB folders');
  assert.equal(tmpfsSizeMb({ memoryMb: 1024, tmpfsMb: 512 }), 298);
  assert.equal(tmpfsSizeMb({ memoryMb: 512, tmpfsMb: 512 }), 128);
  assert.equal(tmpfsSizeMb({ memoryMb: 64, tmpfsMb: 512 }), 8, 'never below 8 MiB');
  for (const memoryMb of [160, 256, 512, 1000, 2048, 4096]) {
    assert.ok(3 * tmpfsSizeMb({ memoryMb, tmpfsMb: 10_000 }) + 128 <= memoryMb, `${memoryMb} MiB`);
  }
});

test('the container gets the CPU weight, the tmpfs sizes and the masked paths', () => {
  const container = buildSandboxContainer({
    sessionId: 'sesn_limits',
    image: 'longhaul-sandbox:latest',
    memoryMb: 512,
    cpus: 1,
    cpuShares: 256,
    pidsLimit: 512,
    sessionDir: '/tmp/x',
    trustDir: '/tmp/x/trust',
    executorDir: '/tmp/executor',
    tmpfsMb: 512,
    maxOutputBytes: 1000,
    defaultTimeoutMs: 1000,
    waitStrategy: Wait.forLogMessage('never'),
    egressRelayPort: 3128,
    storage: { type: 'volumes' },
  });
  const { hostConfig } = container as unknown as { hostConfig: { CpuShares?: number; NanoCpus?: number; MaskedPaths?: string[]; Tmpfs?: Record<string, string> } };
  assert.equal(hostConfig.CpuShares, 256);
  assert.equal(hostConfig.NanoCpus, 1e9);
  assert.ok(hostConfig.MaskedPaths?.includes('/sys/devices/virtual/block'), 'session disks (loop devices) are hidden');
  // Setting the list replaces Docker's own: its defaults must still be in it.
  for (const path of ['/proc/kcore', '/proc/keys', '/sys/firmware']) assert.ok(SANDBOX_MASKED_PATHS.includes(path as never), path);
  assert.match(hostConfig.Tmpfs?.['/tmp'] ?? '', /size=128m/);
});

test('LONGHAUL_SANDBOX_CPUS and LONGHAUL_SANDBOX_CPU_SHARES set the CPU cap and weight; bad values are a ConfigError naming them', () => {
  assert.deepEqual(sandboxLimitsFromEnv({ LONGHAUL_SANDBOX_CPUS: ' 0.5 ', LONGHAUL_SANDBOX_CPU_SHARES: '512' }), { cpus: 0.5, cpuShares: 512 });
  assert.deepEqual(sandboxLimitsFromEnv({ LONGHAUL_SANDBOX_CPUS: '2', LONGHAUL_SANDBOX_DISK_MB: '1024' }), { diskMb: 1024, cpus: 2 });
  for (const bad of ['0', '0.001', '-1', 'one', '1e3', '2000']) {
    assert.throws(() => sandboxLimitsFromEnv({ LONGHAUL_SANDBOX_CPUS: bad }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_SANDBOX_CPUS/.test(error.message), bad);
  }
  for (const bad of ['1', '0', '1.5', '262145', 'low']) {
    assert.throws(() => sandboxLimitsFromEnv({ LONGHAUL_SANDBOX_CPU_SHARES: bad }), (error: unknown) => error instanceof ConfigError && /LONGHAUL_SANDBOX_CPU_SHARES/.test(error.message), bad);
  }
});
