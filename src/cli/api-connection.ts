/**
 * Where the resource commands (`longhaul agents …`, `apply`, `sessions tail`) send their
 * requests, and the official SDK client that sends them.
 */
import Anthropic from '@anthropic-ai/sdk';
import { DEFAULT_API_PORT, resolveDataDir } from '../config/dev-config.ts';
import { readDevInfo } from '../config/dev-info.ts';
import { CliError } from './cli-error.ts';
import { nonEmpty, sameUrl } from './run-target.ts';

/** Flags every resource command takes. */
export type ApiConnectionFlags = { baseUrl?: string; apiKey?: string; dataDir?: string };

export type ApiConnection = { client: Anthropic; baseURL: string };

/**
 * The base URL is `--base-url`, else `LONGHAUL_BASE_URL`, else the running `longhaul dev`
 * of the data folder, else the default local port. The key is `--api-key`, else
 * `LONGHAUL_API_KEY`, else that `longhaul dev`'s own key when the URL is its, else
 * `ANTHROPIC_API_KEY` — after the dev key, because that variable usually holds a key for
 * Claude, which a local server would refuse.
 *
 * @example
 * const { client, baseURL } = await connectApi({ flags: { baseUrl: 'http://127.0.0.1:4000' } });
 */
export async function connectApi({ flags, env = process.env }: { flags: ApiConnectionFlags; env?: NodeJS.ProcessEnv }): Promise<ApiConnection> {
  const lookup = await readDevInfo(resolveDataDir({ flag: flags.dataDir, env }));
  const dev = lookup.state === 'running' ? lookup.info : undefined;
  const baseURL = flags.baseUrl ?? nonEmpty(env['LONGHAUL_BASE_URL']) ?? dev?.api_url ?? `http://127.0.0.1:${DEFAULT_API_PORT}`;
  const devKey = dev !== undefined && sameUrl(dev.api_url, baseURL) ? dev.api_key : undefined;
  const apiKey = flags.apiKey ?? nonEmpty(env['LONGHAUL_API_KEY']) ?? devKey ?? nonEmpty(env['ANTHROPIC_API_KEY']);
  if (apiKey === undefined) {
    throw new CliError(`no API key for ${baseURL}: pass --api-key, set LONGHAUL_API_KEY, or start \`./longhaul dev\` (its key is found on its own)`, { exitCode: 2 });
  }
  return { client: new Anthropic({ baseURL, apiKey, maxRetries: 2 }), baseURL };
}
