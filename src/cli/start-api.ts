import type { Longhaul } from '../client/longhaul.ts';
import type { DevModel } from '../config/dev-info.ts';
import type { SessionStore } from '../store/session-store.ts';
import { CliError } from './cli-error.ts';

export type DevApi = { url: string; close(): Promise<void> };

export type StartDevApiOptions = {
  longhaul: Longhaul;
  store: SessionStore;
  apiKey: string;
  port: number;
  host: string;
  model: DevModel;
};

/** The Managed Agents HTTP API of `longhaul dev`, listening on `host:port`. */
export async function startDevApi(_options: StartDevApiOptions): Promise<DevApi> {
  throw new CliError('the HTTP API (src/api) is not in this checkout yet');
}
