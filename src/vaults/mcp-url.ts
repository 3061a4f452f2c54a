/**
 * The form two MCP server URLs are compared in: scheme, host and port as the URL
 * parser normalises them (lower case, default port dropped), and the path without a
 * trailing slash. Query and fragment do not take part: a credential is for a server,
 * and `https://mcp.example.com/sse/` names the same one as `HTTPS://MCP.example.com:443/sse`.
 */
export function normalizeMcpUrl(url: string): string {
  const parsed = new URL(url);
  const path = parsed.pathname.replace(/\/+$/, '');
  return `${parsed.protocol}//${parsed.host}${path}`;
}

/** Like `normalizeMcpUrl`, but undefined for a string that is not a URL. */
export function tryNormalizeMcpUrl(url: string): string | undefined {
  try {
    return normalizeMcpUrl(url);
  } catch {
    return undefined;
  }
}
