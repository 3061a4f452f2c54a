/**
 * A self-hosted environment's worker in its own process: the official SDK's
 * `work.worker()` runner, polling until killed. Tests kill it mid-call (SIGKILL, no
 * teardown) to show that its work item comes back to another worker.
 *
 *   LONGHAUL_URL=… ENVIRONMENT_ID=env_… ENVIRONMENT_KEY=lhk_env_… WORKDIR=/tmp/… node test/support/self-hosted-worker.ts
 */
import Anthropic from '@anthropic-ai/sdk';

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const environmentKey = need('ENVIRONMENT_KEY');
const client = new Anthropic({ baseURL: need('LONGHAUL_URL'), authToken: environmentKey, apiKey: null, maxRetries: 2 });
process.stdout.write('worker polling\n');
await client.beta.environments.work.worker({ environmentId: need('ENVIRONMENT_ID'), environmentKey, workdir: need('WORKDIR'), workerId: 'child-worker' }).run();
