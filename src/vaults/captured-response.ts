import type { CapturedHttpResponse } from '../schemas/api-vault.ts';

/** Longest body kept in a captured response, in characters. */
export const CAPTURED_BODY_CHARS = 4096;
const READ_LIMIT_BYTES = 64 * 1024;
const REDACTED = '[redacted]';

/** Token-bearing JSON fields a server may echo: their values are never kept. */
const TOKEN_FIELDS = /("(?:access_token|refresh_token|id_token|client_secret|token)"\s*:\s*)"(?:[^"\\]|\\.)*"/g;

/**
 * An HTTP response as a validation reports it: status, content type, and the start
 * of the body with every known secret and every token field scrubbed. Reads at most
 * 64 KiB and then lets go of the stream (an MCP server may answer with an endless SSE).
 */
export async function captureResponse(response: Response, { secrets }: { secrets: readonly string[] }): Promise<CapturedHttpResponse> {
  const raw = await readCapped(response);
  const scrubbed = scrubSecrets(raw.text, secrets);
  const truncated = raw.truncated || scrubbed.length > CAPTURED_BODY_CHARS;
  return {
    status_code: response.status,
    content_type: response.headers.get('content-type') ?? '',
    body: scrubbed.slice(0, CAPTURED_BODY_CHARS),
    body_truncated: truncated,
  };
}

/** `text` with each secret (and any token field's value) replaced by `[redacted]`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text.replace(TOKEN_FIELDS, `$1"${REDACTED}"`);
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(secret).join(REDACTED);
  return out;
}

async function readCapped(response: Response): Promise<{ text: string; truncated: boolean }> {
  if (!response.body) return { text: '', truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      bytes += value.byteLength;
      if (bytes >= READ_LIMIT_BYTES) {
        truncated = true;
        break;
      }
    }
  } catch {
    // The request timed out or the peer hung up mid-body: what arrived is what there is.
    truncated = true;
  } finally {
    await reader.cancel().catch(() => {});
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated };
}
