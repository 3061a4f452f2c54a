import { resolveDataDir } from '../config/dev-config.ts';
import { readDevInfo, type DevModel } from '../config/dev-info.ts';
import { CliError } from './cli-error.ts';

/** The API `longhaul run` talks to, and what it knows about the server's model. */
export type RunTarget = {
  baseURL: string;
  apiKey: string;
  /** Undefined when the server is not a `longhaul dev` of this data folder. */
  model: DevModel | undefined;
};

const START_HINT = 'start one with `./longhaul dev` (in another terminal), or pass --url and --api-key';

/**
 * `--url`/`--api-key` (or `LONGHAUL_URL`/`LONGHAUL_API_KEY`) when given, else the
 * running `longhaul dev` named by `<data-dir>/dev.json`.
 */
export async function resolveRunTarget({
  dataDir: dataDirFlag,
  url,
  apiKey,
  env = process.env,
}: {
  dataDir?: string | undefined;
  url?: string | undefined;
  apiKey?: string | undefined;
  env?: NodeJS.ProcessEnv;
}): Promise<RunTarget> {
  const dataDir = resolveDataDir({ flag: dataDirFlag, env });
  const lookup = await readDevInfo(dataDir);
  const dev = lookup.state === 'running' ? lookup.info : undefined;
  const explicitUrl = url ?? nonEmpty(env['LONGHAUL_URL']);
  const explicitKey = apiKey ?? nonEmpty(env['LONGHAUL_API_KEY']);

  if (explicitUrl !== undefined) {
    const sameServer = dev !== undefined && sameUrl(dev.api_url, explicitUrl);
    const key = explicitKey ?? (sameServer ? dev.api_key : undefined);
    if (key === undefined) throw new CliError(`no API key for ${explicitUrl}: pass --api-key or set LONGHAUL_API_KEY`);
    return { baseURL: explicitUrl, apiKey: key, model: sameServer ? dev.model : undefined };
  }
  switch (lookup.state) {
    case 'running':
      return { baseURL: lookup.info.api_url, apiKey: explicitKey ?? lookup.info.api_key, model: lookup.info.model };
    case 'missing':
      throw new CliError(`no \`longhaul dev\` is running for ${dataDir} (no ${lookup.path}); ${START_HINT}`);
    case 'stale':
      throw new CliError(`the \`longhaul dev\` that wrote ${lookup.path} (pid ${lookup.info.pid}) is no longer running; ${START_HINT}`);
    case 'invalid':
      throw new CliError(`${lookup.path} is not a dev.json this version understands (${lookup.reason}); restart \`./longhaul dev\``);
  }
}

/** Whether two base URLs name the same server (trailing slashes and `localhost` aside). */
export function sameUrl(a: string, b: string): boolean {
  const norm = (u: string) => u.replace(/\/+$/, '').replace('://localhost', '://127.0.0.1');
  return norm(a) === norm(b);
}

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
