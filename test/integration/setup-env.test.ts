/**
 * Checks what scripts/setup.sh promises the rest of the project: the sandbox image is
 * current (its hash label matches sandbox/image), runs as uid 1000 in /workspace with
 * the tools agents use, its Python has the executor's bytecode, and .cache/env.sh points at
 * a working Temporal CLI.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const image = process.env['LONGHAUL_SANDBOX_IMAGE'] ?? 'longhaul-sandbox:latest';

/** Same value as `sandbox_image_hash` in scripts/lib.sh (sha256sum lines of ./paths in C order). */
async function sandboxImageHash(): Promise<string> {
  const dir = join(root, 'sandbox', 'image');
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const paths = entries
    .filter((entry) => entry.isFile())
    .map((entry) => `./${relative(dir, join(entry.parentPath, entry.name))}`)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  let listing = '';
  for (const path of paths) {
    const digest = createHash('sha256').update(await readFile(join(dir, path))).digest('hex');
    listing += `${digest}  ${path}\n`;
  }
  return createHash('sha256').update(listing).digest('hex').slice(0, 16);
}

describe('sandbox image', () => {
  it('is built from the current sandbox/image files', async () => {
    const { stdout } = await run('docker', ['image', 'inspect', '--format', '{{json .Config}}', image]);
    const config = JSON.parse(stdout) as { User: string; WorkingDir: string; Labels: Record<string, string> | null };
    assert.equal(config.Labels?.['longhaul.image-hash'], await sandboxImageHash());
    assert.equal(config.User, 'agent');
    assert.equal(config.WorkingDir, '/workspace');
  });

  it('runs hardened as uid 1000 with python3, ripgrep and git, and /workspace is writable', async () => {
    const script = [
      'id -u; id -g; echo "$HOME"; pwd',
      'python3 -c "import sys; print(sys.version_info[0])"',
      'rg --version | head -n1 | cut -d" " -f1',
      'git --version | cut -d" " -f1',
      'touch /workspace/probe && stat -c %u /workspace/probe',
    ].join('; ');
    const { stdout } = await run('docker', [
      'run', '--rm', '--network', 'none', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      image, 'bash', '-c', script,
    ]);
    assert.deepEqual(stdout.trim().split('\n'), [
      '1000', '1000', '/home/agent', '/workspace', '3', 'ripgrep', 'git', '1000',
    ]);
  });

  it("has the executor's bytecode, current for its Python: containers start without compiling it", async () => {
    // What Python checks before it uses a hash-checked .pyc (PEP 552): its own magic number,
    // the checked-hash flags, and the hash of the source as it is now.
    const check = [
      'import glob, importlib.util',
      "for source in sorted(glob.glob('/executor/*.py')):",
      "    with open(source, 'rb') as f: code = f.read()",
      '    try:',
      "        with open(importlib.util.cache_from_source(source), 'rb') as f: header = f.read(16)",
      '    except FileNotFoundError:',
      "        print(source, 'missing'); continue",
      '    current = header[:4] == importlib.util.MAGIC_NUMBER and header[4:8] == (3).to_bytes(4, "little") and header[8:] == importlib.util.source_hash(code)',
      "    print(source, 'current' if current else 'stale')",
    ].join('\n');
    const { stdout } = await run('docker', [
      'run', '--rm', '--network', 'none', '--read-only', '-v', `${join(root, 'sandbox', 'executor')}:/executor:ro`,
      image, 'python3', '-S', '-c', check,
    ]);
    const sources = (await readdir(join(root, 'sandbox', 'executor'))).filter((name) => name.endsWith('.py')).sort();
    assert.ok(sources.includes('executor.py'));
    assert.deepEqual(stdout.trim().split('\n'), sources.map((name) => `/executor/${name} current`));
  });
});

describe('.cache/env.sh', () => {
  it('exports the Testcontainers offline settings and a working Temporal CLI', async () => {
    const { stdout } = await run('bash', [
      '-c',
      'source .cache/env.sh && echo "$TESTCONTAINERS_RYUK_DISABLED $TESTCONTAINERS_HOST_OVERRIDE" && "$TEMPORAL_CLI_PATH" --version && node --version',
    ], { cwd: root });
    const [testcontainers, temporal, node] = stdout.trim().split('\n');
    assert.equal(testcontainers, 'true localhost');
    assert.match(temporal ?? '', /^temporal version \d+\.\d+\.\d+/);
    const [major = 0, minor = 0] = (node ?? '').replace(/^v/, '').split('.').map(Number);
    assert.ok(major > 22 || (major === 22 && minor >= 22), `node ${node} from env.sh is older than 22.22`);
  });
});
