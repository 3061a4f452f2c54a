import type { Networking } from '../src/schemas/environment.ts';
import type { ToolOutcome } from '../sandbox/types.ts';

/** A pluggable web search backend for workers whose model endpoint has no server-side search. */
export type WebSearchProvider = (query: string, options: { signal: AbortSignal }) => Promise<{ title: string; url: string; snippet: string }[]>;

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
  fetchImpl = fetch,
}: {
  name: string;
  input: Record<string, unknown>;
  networking: Networking;
  webSearch?: WebSearchProvider | undefined;
  signal: AbortSignal;
  fetchImpl?: typeof fetch;
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
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]), redirect: 'follow' });
    const finalHost = new URL(response.url || url.href).hostname;
    if (!hostAllowed(finalHost, networking)) return failed(`redirected to ${finalHost}, which the environment's network policy does not allow`);
    const body = await readCapped(response, MAX_FETCH_BYTES);
    const type = response.headers.get('content-type') ?? '';
    const text = type.includes('html') ? htmlToText(body.text) : body.text;
    const header = `HTTP ${response.status} ${url.href}${body.truncated ? ` (truncated to ${MAX_FETCH_BYTES} bytes)` : ''}\n\n`;
    return { is_error: !response.ok, content: [{ type: 'text', text: header + text }] };
  } catch (err) {
    return failed(`fetching ${url.href} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
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
