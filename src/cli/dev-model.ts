import Anthropic from '@anthropic-ai/sdk';
import type { DevModel } from '../config/dev-info.ts';
import { rootContextFetch } from '../net/root-context-fetch.ts';

const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** The model client of a `longhaul dev` worker, and what to tell users about it. */
export type DevModelHandle = {
  anthropic: Anthropic;
  info: DevModel;
  close(): Promise<void>;
};

/**
 * Real Claude when `ANTHROPIC_API_KEY` is set (honouring `ANTHROPIC_BASE_URL`);
 * otherwise the scripted demo model, served in this process, so `longhaul dev` works
 * with no key and no network. The scripted model is a script, not Claude: callers
 * must say so.
 */
export async function startDevModel({ env = process.env }: { env?: NodeJS.ProcessEnv } = {}): Promise<DevModelHandle> {
  const apiKey = env['ANTHROPIC_API_KEY']?.trim();
  if (apiKey) {
    const baseURL = env['ANTHROPIC_BASE_URL']?.trim() || ANTHROPIC_DEFAULT_BASE_URL;
    return { anthropic: new Anthropic({ apiKey, baseURL, fetch: rootContextFetch }), info: { kind: 'anthropic', base_url: baseURL }, close: async () => {} };
  }
  // Loaded only here: with a key, `longhaul dev` never loads the scripted model, and without
  // one it loads just that, not the rest of `longhaul/testing` (its MCP test server pulls in
  // the MCP SDK's server half).
  const [{ ScriptedModelServer }, { demoAgentScript }] = await Promise.all([import('../testing/scripted-model-server.ts'), import('../testing/demo-agent-script.ts')]);
  const server = await ScriptedModelServer.start({ script: demoAgentScript });
  return {
    anthropic: new Anthropic({ apiKey: 'scripted-demo-model', baseURL: server.url, fetch: rootContextFetch }),
    info: { kind: 'scripted', base_url: server.url },
    close: () => server.close(),
  };
}
