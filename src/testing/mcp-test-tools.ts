/**
 * The tools every `McpTestServer` serves unless told not to.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { McpTestServer } from './mcp-test-server.ts';

/** A 1×1 transparent PNG. */
export const TINY_PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

export const DEFAULT_TEST_ORDERS: Readonly<Record<string, unknown>> = {
  'ORD-1001': { order_id: 'ORD-1001', status: 'shipped', items: [{ sku: 'KB-01', quantity: 1 }], total_cents: 4999 },
  'ORD-1002': { order_id: 'ORD-1002', status: 'processing', items: [{ sku: 'MS-02', quantity: 2 }], total_cents: 2598 },
};

/**
 * `add`, `echo`, `lookup_order`, `fail` (reports `isError`), `slow` (waits, stops
 * when cancelled) and `mixed_content` (text, image, embedded resource, link).
 */
export function registerBuiltInTools(server: McpTestServer, { orders }: { orders: Readonly<Record<string, unknown>> }): void {
  server.registerTool('add', { description: 'Adds two numbers.', inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
  }));

  server.registerTool('echo', { description: 'Returns its text unchanged.', inputSchema: { text: z.string() } }, ({ text }) => ({
    content: [{ type: 'text', text }],
  }));

  server.registerTool('lookup_order', { description: 'Looks an order up by id.', inputSchema: { order_id: z.string() } }, ({ order_id }) => {
    const order = orders[order_id];
    if (order === undefined) return { content: [{ type: 'text', text: `order ${order_id} not found` }], isError: true };
    return { content: [{ type: 'text', text: JSON.stringify(order) }] };
  });

  server.registerTool('fail', { description: 'Always fails, as a tool result.', inputSchema: { message: z.string().optional() } }, ({ message }) => ({
    content: [{ type: 'text', text: message ?? 'the tool failed' }],
    isError: true,
  }));

  server.registerTool('slow', { description: 'Waits `ms` milliseconds; stops early when cancelled.', inputSchema: { ms: z.number().int().min(0) } }, async ({ ms }, { signal }) => {
    await sleep(ms, undefined, { signal });
    return { content: [{ type: 'text', text: `waited ${ms} ms` }] };
  });

  server.registerTool('mixed_content', { description: 'Returns one block of each content type.' }, () => ({
    content: [
      { type: 'text', text: 'report follows' },
      { type: 'image', mimeType: 'image/png', data: TINY_PNG_BASE64 },
      { type: 'resource', resource: { uri: 'file:///report.txt', mimeType: 'text/plain', text: 'embedded report text' } },
      { type: 'resource', resource: { uri: 'file:///report.bin', mimeType: 'application/octet-stream', blob: Buffer.from('abcd').toString('base64') } },
      { type: 'resource_link', uri: 'https://example.com/report.pdf', name: 'report.pdf', mimeType: 'application/pdf' },
    ],
  }));
}
