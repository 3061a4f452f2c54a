/**
 * Turns an MCP `tools/call` result into the content blocks a tool result may carry
 * in the Managed Agents API (text and base64 images).
 */
import type { CallToolResult, ContentBlock } from '@modelcontextprotocol/sdk/types.js';

export type McpTextBlock = { type: 'text'; text: string };
export type McpImageBlock = { type: 'image'; source: { type: 'base64'; media_type: string; data: string } };

/** What one MCP tool call produced. A tool that reports `isError` is an outcome, not a throw. */
export type McpToolOutcome = { content: Array<McpTextBlock | McpImageBlock>; isError: boolean };

/** The image types Claude accepts; any other image is described in text instead. */
const MODEL_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

/**
 * Maps each MCP content block: text as text; images of a type the model reads as
 * images; embedded text resources as their text; everything else (audio, binary
 * resources, resource links, unknown types) as a one-line description, so the
 * model knows something was returned without receiving bytes it cannot read.
 * A result with no content but `structuredContent` gives that as JSON text.
 */
export function toMcpToolOutcome(result: CallToolResult): McpToolOutcome {
  const content = result.content.map(toBlock);
  if (content.length === 0 && result.structuredContent !== undefined) {
    content.push({ type: 'text', text: JSON.stringify(result.structuredContent) });
  }
  return { content, isError: result.isError === true };
}

function toBlock(block: ContentBlock): McpTextBlock | McpImageBlock {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text };
    case 'image':
      return imageOrDescription({ mimeType: block.mimeType, data: block.data, what: 'image' });
    case 'audio':
      return describe(`audio (${block.mimeType}, ${base64Bytes(block.data)} bytes) not shown`);
    case 'resource': {
      const { resource } = block;
      if ('text' in resource) return { type: 'text', text: resource.text };
      const mimeType = resource.mimeType ?? 'application/octet-stream';
      return imageOrDescription({ mimeType, data: resource.blob, what: `resource ${resource.uri}` });
    }
    case 'resource_link':
      return describe(`resource link ${block.name}: ${block.uri}${block.mimeType ? ` (${block.mimeType})` : ''}${block.description ? ` - ${block.description}` : ''}`);
    default:
      return describe(`unsupported MCP content type ${JSON.stringify((block as { type: unknown }).type)}`);
  }
}

function imageOrDescription({ mimeType, data, what }: { mimeType: string; data: string; what: string }): McpTextBlock | McpImageBlock {
  const mediaType = mimeType.toLowerCase();
  if (MODEL_IMAGE_TYPES.has(mediaType)) return { type: 'image', source: { type: 'base64', media_type: mediaType, data } };
  return describe(`${what} (${mimeType}, ${base64Bytes(data)} bytes) not shown`);
}

function describe(text: string): McpTextBlock {
  return { type: 'text', text: `[${text}]` };
}

function base64Bytes(data: string): number {
  return Buffer.byteLength(data, 'base64');
}
