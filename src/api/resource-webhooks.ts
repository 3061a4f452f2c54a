import type { MiddlewareHandler } from 'hono';
import type { ApiEnv } from './api-types.ts';
import type { EventSink } from './create-api-session.ts';

/** `POST /v1/agents` and the like: which resource a path names, and what a successful call did to it. */
const RESOURCES: readonly { pattern: RegExp; resource: string }[] = [
  { pattern: /^\/v1\/agents(?:\/([^/]+)(\/archive)?)?$/, resource: 'agent' },
  { pattern: /^\/v1\/environments(?:\/([^/]+)(\/archive)?)?$/, resource: 'environment' },
  { pattern: /^\/v1\/vaults\/([^/]+)\/credentials(?:\/([^/]+)(\/archive)?)?$/, resource: 'vault_credential' },
  { pattern: /^\/v1\/vaults(?:\/([^/]+)(\/archive)?)?$/, resource: 'vault' },
  { pattern: /^\/v1\/memory_stores(?:\/([^/]+)(\/archive)?)?$/, resource: 'memory_store' },
];

/**
 * Publishes `agent.*`, `environment.*`, `vault.*` and `vault_credential.*` webhook events
 * for the API calls that made them: one place that reads the route and the answer, not
 * a line in every handler. Only successful changes count; the answer is not held up by
 * anything but the publish itself, and a failed publish is logged, never the request's.
 */
export function resourceWebhooks(sink: EventSink): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    await next();
    if ((c.req.method !== 'POST' && c.req.method !== 'DELETE') || c.res.status !== 200) return;
    const change = changeOf(c.req.method, c.req.path);
    if (!change) return;
    try {
      const body = (await c.res.clone().json()) as { id?: string; vault_id?: string; updated_at?: string; archived_at?: string | null };
      const id = body.id ?? change.id;
      if (!id) return;
      const at = body.archived_at ?? body.updated_at ?? new Date().toISOString();
      const vaultId = change.resource === 'vault_credential' ? { vault_id: body.vault_id ?? change.vaultId } : {};
      await sink.publish({ type: `${change.resource}.${change.action}`, id, ...vaultId }, { key: `${change.resource}.${change.action}:${id}:${at}`, at });
    } catch (error) {
      console.error(`longhaul: could not publish the webhook event of ${c.req.method} ${c.req.path}:`, error);
    }
  };
}

function changeOf(method: string, path: string): { resource: string; action: 'created' | 'updated' | 'archived' | 'deleted'; id?: string; vaultId?: string } | undefined {
  for (const { pattern, resource } of RESOURCES) {
    const match = pattern.exec(path);
    if (!match) continue;
    const [, first, second, third] = match;
    // Credentials sit under their vault: the first capture is the vault, the next the credential.
    const [vaultId, id, archive] = resource === 'vault_credential' ? [first, second, third] : [undefined, first, second];
    if (method === 'DELETE') return id ? { resource, action: 'deleted', id, ...(vaultId ? { vaultId } : {}) } : undefined;
    if (archive) return { resource, action: 'archived', ...(vaultId ? { vaultId } : {}) };
    return { resource, action: id ? 'updated' : 'created', ...(vaultId ? { vaultId } : {}) };
  }
  return undefined;
}
