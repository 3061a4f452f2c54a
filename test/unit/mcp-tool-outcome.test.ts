import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toMcpToolOutcome } from '../../src/mcp/mcp-tool-outcome.ts';

const png = Buffer.from('not really a png').toString('base64');

test('each MCP content type becomes a text or image block', () => {
  const table: [unknown, unknown][] = [
    [{ type: 'text', text: 'hello' }, { type: 'text', text: 'hello' }],
    [
      { type: 'image', mimeType: 'image/png', data: png },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
    ],
    [
      { type: 'image', mimeType: 'IMAGE/JPEG', data: png },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: png } },
    ],
    [{ type: 'image', mimeType: 'image/svg+xml', data: png }, { type: 'text', text: '[image (image/svg+xml, 16 bytes) not shown]' }],
    [{ type: 'audio', mimeType: 'audio/wav', data: png }, { type: 'text', text: '[audio (audio/wav, 16 bytes) not shown]' }],
    [{ type: 'resource', resource: { uri: 'file:///a.md', mimeType: 'text/markdown', text: '# A' } }, { type: 'text', text: '# A' }],
    [
      { type: 'resource', resource: { uri: 'file:///shot.webp', mimeType: 'image/webp', blob: png } },
      { type: 'image', source: { type: 'base64', media_type: 'image/webp', data: png } },
    ],
    [{ type: 'resource', resource: { uri: 'file:///x.bin', blob: png } }, { type: 'text', text: '[resource file:///x.bin (application/octet-stream, 16 bytes) not shown]' }],
    [
      { type: 'resource_link', uri: 'https://example.com/r', name: 'r', description: 'the report' },
      { type: 'text', text: '[resource link r: https://example.com/r - the report]' },
    ],
    [{ type: 'hologram', data: 'x' }, { type: 'text', text: '[unsupported MCP content type "hologram"]' }],
  ];
  for (const [block, expected] of table) {
    const outcome = toMcpToolOutcome({ content: [block] } as Parameters<typeof toMcpToolOutcome>[0]);
    assert.deepEqual(outcome, { content: [expected], isError: false }, JSON.stringify(block));
  }
});

test('isError is carried; structuredContent stands in for missing content', () => {
  assert.deepEqual(toMcpToolOutcome({ content: [{ type: 'text', text: 'no' }], isError: true }), { content: [{ type: 'text', text: 'no' }], isError: true });
  assert.deepEqual(toMcpToolOutcome({ content: [], structuredContent: { total: 3 } }), { content: [{ type: 'text', text: '{"total":3}' }], isError: false });
  assert.deepEqual(toMcpToolOutcome({ content: [{ type: 'text', text: '3' }], structuredContent: { total: 3 } }).content, [{ type: 'text', text: '3' }]);
  assert.deepEqual(toMcpToolOutcome({ content: [] }), { content: [], isError: false });
});
