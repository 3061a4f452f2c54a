import { lookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import type { ResolveHost } from '../sandbox/egress/egress-proxy.ts';
import { isOwnAddress } from '../sandbox/egress/own-addresses.ts';
import { isInternalAddress } from '../src/net/internal-address.ts';
import type { Networking } from '../src/schemas/environment.ts';
import type { ToolOutcome } from '../sandbox/types.ts';

/** A pluggable web search backend for workers whose model endpoint has no server-side search. */
export type WebSearchProvider = (query: string, options: { signal: AbortSignal }) => Promise<{ title: string; url: string; snippet: string }[]>;

export { isInternalAddress };

const MAX_FETCH_BYTES = 512 * 1024;

/**
 * `web_fetch` and `web_search` run on the worker (not in the sandbox) when the
 * model endpoint does not offer Anthropic's server-side versions. Fetches obey
 * the environment's network policy: `limited` allows only `allowed_hosts`.
 */
export async function runWebTool({
  name,
  input,
  networking,
  webSearch,
  signal,
  resolveHost = systemResolve,
}: {
  name: string;
  input: Record<string, unknown>;
  networking: Networking;
  webSearch?: WebSearchProvider | undefined;
  signal: AbortSignal;
  /** How destination names are resolved. Default: the system resolver. */
  resolveHost?: ResolveHost;
}): Promise<ToolOutcome> {
  if (name === 'web_search') {
    const query = input['query'];
    if (typeof query !== 'string' || query.trim() === '') return failed('web_search needs a non-empty "query" string');
    if (!webSearch) return failed('web_search is not available: no search provider is configured on this worker and the model endpoint has no server-side search');
    const results = await webSearch(query, { signal });
    return { is_error: false, content: [{ type: 'text', text: results.map((r, i) => `${i + 1}. ${r.title}\n   ${r.url}\n   ${r.snippet}`).join('\n') || 'No results.' }] };
  }
  if (name !== 'web_fetch') return failed(`unknown worker tool ${name}`);
  const raw = input['url'];
  if (typeof raw !== 'string') return failed('web_fetch needs a "url" string');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return failed(`not a valid URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return failed(`only http and https URLs can be fetched, not ${url.protocol}`);
  if (!hostAllowed(url.hostname, networking)) return failed(`the environment's network policy does not allow ${url.hostname}`);
  const dispatcher = new Agent({ connect: { lookup: checkedLookup(networking, resolveHost) } });
  try {
    const response = await fetchFollowingPolicy({ url, networking, signal, dispatcher });
    if (typeof response === 'string') return failed(response);
    const body = await readCapped(response, MAX_FETCH_BYTES);
    const type = response.headers.get('content-type') ?? '';
    const text = type.includes('html') ? htmlToText(body.text) : body.text;
    const header = `HTTP ${response.status} ${response.url || url.href}${body.truncated ? ` (truncated to ${MAX_FETCH_BYTES} bytes)` : ''}\n\n`;
    return { is_error: !response.ok, content: [{ type: 'text', text: header + text }] };
  } catch (err) {
    return failed(`fetching ${url.href} failed: ${reasonOf(err)}`);
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
}

const systemResolve: ResolveHost = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/** The innermost cause's message: undici wraps the lookup's refusal in "fetch failed". */
function reasonOf(err: unknown): string {
  let current = err;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(err);
}

/**
 * Follows redirects by hand so every hop is checked against the policy before
 * the worker connects to it. Returns the final response, or why it stopped.
 */
async function fetchFollowingPolicy({ url, networking, signal, dispatcher }: { url: URL; networking: Networking; signal: AbortSignal; dispatcher: Agent }): Promise<Response | string> {
  let current = url;
  for (let hop = 0; hop <= 5; hop++) {
    const internal = internalLiteral(current.hostname, networking);
    if (internal) return internal;
    const response = (await undiciFetch(current, { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]), redirect: 'manual', dispatcher })) as unknown as Response;
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) return response;
    await response.body?.cancel();
    const next = new URL(location, current);
    if (!hostAllowed(next.hostname, networking)) return `redirected to ${next.hostname}, which the environment's network policy does not allow`;
    current = next;
  }
  return `too many redirects fetching ${url.href}`;
}

/**
 * The worker sits inside the operator's network: a fetch must not become a way
 * into it (Temporal, databases, cloud metadata). Loopback, private and
 * link-local addresses are refused unless the host is listed in allowed_hosts.
 */
function internalRefusal(host: string, addresses: readonly string[], networking: Networking): string | undefined {
  if (networking.type === 'limited' && (networking.allowed_hosts ?? []).length > 0 && hostAllowed(host, networking)) return undefined;
  const internal = addresses.find((address) => isInternalAddress(address) || isOwnAddress(address));
  return internal ? `${host} resolves to the internal address ${internal}; list it in allowed_hosts to allow it` : undefined;
}

/** An address literal in the URL never reaches a lookup: check it here. */
function internalLiteral(host: string, networking: Networking): string | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) ? internalRefusal(host, [bare], networking) : undefined;
}

/**
 * The connection's own name lookup, checked: the addresses judged are the addresses
 * connected to, so a name that answers a public address to a check and an internal
 * one to the connection (DNS rebinding) cannot slip between the two.
 */
function checkedLookup(networking: Networking, resolveHost: ResolveHost): LookupFunction {
  return (hostname, options, callback) => {
    resolveHost(hostname).then(
      (addresses) => {
        const refusal = addresses.length === 0 ? `${hostname} does not resolve` : internalRefusal(hostname, addresses, networking);
        if (refusal) return callback(Object.assign(new Error(refusal), { code: 'ENOTFOUND' }), '', 0);
        const entries = addresses.map((address) => ({ address, family: isIP(address) }));
        if (options.all) return (callback as unknown as (error: null, all: typeof entries) => void)(null, entries);
        callback(null, entries[0]!.address, entries[0]!.family);
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };
}

export function hostAllowed(host: string, networking: Networking): boolean {
  if (networking.type === 'unrestricted') return true;
  const wanted = host.toLowerCase();
  return (networking.allowed_hosts ?? []).some((allowed) => {
    const pattern = allowed.toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    return pattern.startsWith('*.') ? wanted.endsWith(pattern.slice(1)) : wanted === pattern;
  });
}

async function readCapped(response: Response, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  const reader = response.body?.getReader();
  if (!reader) return { text: '', truncated: false };
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= maxBytes) {
      await reader.cancel();
      return { text: new TextDecoder().decode(Buffer.concat(chunks).subarray(0, maxBytes)), truncated: true };
    }
  }
  return { text: new TextDecoder().decode(Buffer.concat(chunks)), truncated: false };
}

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/(p|div|li|h[1-6]|tr)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function failed(text: string): ToolOutcome {
  return { is_error: true, content: [{ type: 'text', text }] };
}
