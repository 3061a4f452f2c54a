import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { type InjectedSecret, substitute } from './egress-policy.ts';

/** How the egress proxy rewrites requests and answers on their way through. */

// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1, plus the proxy ones).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export const deniedPrefix = 'Longhaul egress proxy refused the request:';

export function forwardedHeaders(incoming: IncomingHttpHeaders, secrets: readonly InjectedSecret[]): Record<string, string | string[]> {
  const connectionTokens = new Set(
    String(incoming['connection'] ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionTokens.has(name) || name === 'host' || name === 'content-length') continue;
    headers[name] = Array.isArray(value) ? value.map((v) => substitute(v, secrets)) : substitute(value, secrets);
  }
  return headers;
}

export function responseHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  const connectionTokens = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === 'connection') for (const t of (raw[i + 1] ?? '').split(',')) connectionTokens.add(t.trim().toLowerCase());
  }
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionTokens.has(lower)) continue;
    out.push(name, raw[i + 1] ?? '');
  }
  return out;
}

export function requestHasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Byte-level substitution: a body may be any bytes, the placeholders are ASCII. */
export function substituteBuffer(body: Buffer, secrets: readonly InjectedSecret[]): Buffer {
  let out = body;
  for (const secret of secrets) {
    const needle = Buffer.from(secret.placeholder);
    const value = Buffer.from(secret.value);
    const parts: Buffer[] = [];
    let from = 0;
    for (let at = out.indexOf(needle, from); at >= 0; at = out.indexOf(needle, from)) {
      parts.push(out.subarray(from, at), value);
      from = at + needle.length;
    }
    if (parts.length === 0) continue;
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

export function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = message.endsWith('\n') ? message : `${message}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

export function rawResponse(status: number, message: string): string {
  const reason = status === 403 ? 'Forbidden' : status === 400 ? 'Bad Request' : status === 501 ? 'Not Implemented' : 'Bad Gateway';
  const body = message.endsWith('\n') ? message : `${message}\n`;
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

