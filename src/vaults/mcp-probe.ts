import type { CapturedHttpResponse } from '../schemas/api-vault.ts';
import { captureResponse } from './captured-response.ts';

/** The MCP protocol revision the probe speaks; a server answers `initialize` with its own. */
const PROBE_PROTOCOL_VERSION = '2025-06-18';

export type McpProbeOutcome =
  | { ok: true }
  /** `rejected`: the server refused the credential (401/403); otherwise the probe could not tell. */
  | { ok: false; rejected: boolean; httpResponse: CapturedHttpResponse | null };

/**
 * Whether an MCP server (streamable HTTP) accepts a bearer token: one JSON-RPC
 * `initialize` POSTed with it. A 2xx is acceptance; the session it may open is
 * ended again (DELETE with its `Mcp-Session-Id`), best effort.
 */
export async function probeMcpServer({
  url,
  token,
  fetch: fetchFn = fetch,
  timeoutMs = 15_000,
}: {
  url: string;
  token: string;
  fetch?: typeof fetch;
  /** Default 15 s. */
  timeoutMs?: number;
}): Promise<McpProbeOutcome> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const initialize = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: PROBE_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'longhaul-credential-probe', version: '1' } },
  };
  let response: Response;
  try {
    // No redirects: following one would hand the token to wherever it points.
    response = await fetchFn(url, { method: 'POST', headers, body: JSON.stringify(initialize), redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return { ok: false, rejected: false, httpResponse: null };
  }
  if (response.ok) {
    await response.body?.cancel().catch(() => {});
    const session = response.headers.get('mcp-session-id');
    if (session) {
      await fetchFn(url, { method: 'DELETE', headers: { authorization: headers.authorization, 'mcp-session-id': session }, signal: AbortSignal.timeout(timeoutMs) })
        .then((r) => r.body?.cancel())
        .catch(() => {});
    }
    return { ok: true };
  }
  const httpResponse = await captureResponse(response, { secrets: [token] });
  return { ok: false, rejected: response.status === 401 || response.status === 403, httpResponse };
}
