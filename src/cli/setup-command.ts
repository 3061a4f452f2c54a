import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const setupScript = fileURLToPath(new URL('../../scripts/setup.sh', import.meta.url));

/**
 * `longhaul setup`: runs scripts/setup.sh (idempotent, fast when everything is there),
 * so the hint "run `./longhaul setup`" in error messages works as written.
 */
export function runSetup(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [setupScript], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
