import { createApiApp } from '../api/create-api-app.ts';
import { serveApi } from '../api/serve-api.ts';
import type { Longhaul } from '../client/longhaul.ts';
import type { DeploymentService } from '../deployments/deployment-service.ts';
import type { WebhookPublisher } from '../webhooks/webhook-publisher.ts';
import { MODEL_HEADER, type DevModel } from '../config/dev-info.ts';
import type { ApiStores } from '../store/open-api-stores.ts';
import type { DreamService } from '../dreams/dream-service.ts';
import type { SessionStore } from '../store/session-store.ts';
import { CliError } from './cli-error.ts';

export type DevApi = { url: string; close(): Promise<void> };

export type StartDevApiOptions = {
  longhaul: Longhaul;
  store: SessionStore;
  stores: ApiStores;
  deploymentService?: DeploymentService | undefined;
  dreamService?: DreamService | undefined;
  webhookPublisher?: WebhookPublisher | undefined;
  apiKey: string;
  port: number;
  host: string;
  model: DevModel;
  /** The dev server's Temporal Web UI, linked from the console's session pages. */
  temporalUiUrl: string;
  onInternalError: (message: string) => void;
};

/** The Managed Agents HTTP API of `longhaul dev`, listening on `host:port`. */
export async function startDevApi({ longhaul, store, stores, deploymentService, dreamService, webhookPublisher, apiKey, port, host, model, temporalUiUrl, onInternalError }: StartDevApiOptions): Promise<DevApi> {
  const app = createApiApp({
    longhaul,
    store,
    ...stores,
    deploymentService,
    dreamService,
    webhookPublisher,
    apiKeys: [apiKey],
    console: { temporalUiUrl },
    onInternalError: (error, { method, path, requestId }) =>
      onInternalError(`${method} ${path} (${requestId}) failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
  });
  const modelHeader = model.kind === 'scripted' ? 'scripted-demo' : 'anthropic';
  const fetch = async (request: Request, ...rest: unknown[]): Promise<Response> => {
    const response = await (app.fetch as (request: Request, ...rest: unknown[]) => Response | Promise<Response>)(request, ...rest);
    try {
      response.headers.set(MODEL_HEADER, modelHeader);
    } catch {
      // Immutable headers (a proxied response): the header is a courtesy, leave it out.
    }
    return response;
  };
  try {
    return await serveApi({ app: { fetch }, port, host });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new CliError(`port ${port} on ${host} is in use (another \`longhaul dev\`?); pick another with --port or LONGHAUL_PORT`, { cause: error });
    }
    throw error;
  }
}
