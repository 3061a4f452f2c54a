/** What the resource commands take: kept apart so `main.ts` declares them without loading the SDK. */
import type { ApiConnectionFlags } from './api-connection.ts';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const RESOURCE_KINDS = ['agents', 'environments', 'sessions', 'vaults'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export type ResourceFlags = ApiConnectionFlags & { output?: OutputFormat };

/** `create`'s flags; each kind reads those it has. */
export type CreateFlags = ResourceFlags & {
  file?: string;
  name?: string;
  model?: string;
  system?: string;
  description?: string;
  agent?: string;
  environment?: string;
  title?: string;
};
