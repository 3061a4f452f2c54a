import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BetaDream, DreamCreateParams as SdkDreamCreateParams, DreamListParams as SdkDreamListParams } from '@anthropic-ai/sdk/resources/beta/dreams';
import type { z } from 'zod';
import { formatZodError } from '../../src/api/format-zod-error.ts';
import { Dream, DreamCreateParams, DreamListQuery } from '../../src/schemas/api-dream.ts';

// Both directions against the SDK: what it sends must be what we accept, what we answer
// must be what it declares. A drift in either fails typechecking.
const sdkShapes = {
  dream: (d: Dream): BetaDream => d,
  create: (p: Omit<SdkDreamCreateParams, 'betas' | 'workspace_id'>): z.input<typeof DreamCreateParams> => p,
  statuses: (s: NonNullable<SdkDreamListParams['statuses']>): z.input<typeof DreamListQuery>['statuses'] => s,
};
void sdkShapes;

const STORE = 'memstore_a';
const store = { type: 'memory_store', memory_store_id: STORE } as const;
const sessions = (session_ids: string[]) => ({ type: 'sessions', session_ids }) as const;
const ids = (n: number) => Array.from({ length: n }, (_, i) => `sesn_${String(i).padStart(3, '0')}`);
const valid = { inputs: [store, sessions(['sesn_b', 'sesn_a'])], model: 'claude-sonnet-5-5' };

/** The 400 message the API answers for `input` (the same formatter the routes use), or undefined when it parses. */
function refusal(input: unknown): string | undefined {
  const result = DreamCreateParams.safeParse(input);
  return result.success ? undefined : formatZodError(result.error, input);
}

test('a minimal dream parses as given: the service, not the schema, fills in defaults and sorts session ids', () => {
  const parsed = DreamCreateParams.parse(valid);
  assert.equal(parsed.output_behavior, undefined);
  assert.equal(parsed.instructions, undefined);
  assert.deepEqual(parsed, valid);
  // Input order does not matter: sessions may come first.
  assert.equal(refusal({ ...valid, inputs: [sessions(['sesn_a']), store] }), undefined);
});

test('inputs: exactly one memory_store entry and exactly one sessions entry, the field named', () => {
  const table: [unknown[], RegExp][] = [
    [[sessions(['sesn_a'])], /^inputs: must hold exactly one memory_store entry$/],
    [[store, store, sessions(['sesn_a'])], /^inputs: must hold exactly one memory_store entry$/],
    [[store], /^inputs: must hold exactly one sessions entry$/],
    [[store, sessions(['sesn_a']), sessions(['sesn_b'])], /^inputs: must hold exactly one sessions entry$/],
    [[], /^inputs: must hold exactly one memory_store entry; inputs: must hold exactly one sessions entry$/],
    [[store, { type: 'files', file_ids: [] }], /^inputs\.1/],
    [[{ type: 'memory_store', memory_store_id: '' }, sessions(['sesn_a'])], /^inputs\.0\.memory_store_id: /],
    [[{ type: 'memory_store' }, sessions(['sesn_a'])], /^inputs\.0\.memory_store_id: Required$/],
  ];
  for (const [inputs, message] of table) assert.match(refusal({ ...valid, inputs }) ?? 'parsed', message, JSON.stringify(inputs));
  assert.match(refusal({ model: valid.model }) ?? 'parsed', /^inputs: Required$/);
});

test('session_ids: 1 to 100 ids, none repeated', () => {
  const table: [string[], RegExp | undefined][] = [
    [[], /^inputs\.1\.session_ids: must hold 1 to 100 session ids$/],
    [ids(101), /^inputs\.1\.session_ids: must hold 1 to 100 session ids$/],
    [['sesn_a', 'sesn_b', 'sesn_a'], /^inputs\.1\.session_ids: must not repeat a session id$/],
    [['sesn_a', ''], /^inputs\.1\.session_ids\.1: /],
    [ids(1), undefined],
    [ids(100), undefined],
  ];
  for (const [sessionIds, message] of table) {
    const got = refusal({ ...valid, inputs: [store, sessions(sessionIds)] });
    if (message) assert.match(got ?? 'parsed', message, `${sessionIds.length} ids`);
    else assert.equal(got, undefined, `${sessionIds.length} ids`);
  }
});

test('model: an id of 1 to 256 characters, or an object whose speed can only be standard', () => {
  const accepted: unknown[] = ['m', 'm'.repeat(256), { id: 'm' }, { id: 'm', speed: 'standard' }, { id: 'm', speed: null }];
  for (const model of accepted) assert.equal(refusal({ ...valid, model }), undefined, JSON.stringify(model));
  const table: [unknown, RegExp][] = [
    [{ id: 'm', speed: 'fast' }, /^model\.speed: dreams run at standard speed only$/],
    // A speed the SDK never sends fails both union branches at once: zod names only the field.
    [{ id: 'm', speed: 'turbo' }, /^model: /],
    [{ id: '' }, /^model\.id: /],
    [{ id: 'm'.repeat(257) }, /^model\.id: /],
    ['', /^model: /],
    ['m'.repeat(257), /^model: /],
    [42, /^model: /],
  ];
  for (const [model, message] of table) assert.match(refusal({ ...valid, model }) ?? 'parsed', message, JSON.stringify(model).slice(0, 40));
  assert.match(refusal({ inputs: valid.inputs }) ?? 'parsed', /^model: Required$/);
});

test('instructions: 1 to 4096 characters, or null', () => {
  for (const instructions of [null, 'x', 'x'.repeat(4096)]) assert.equal(refusal({ ...valid, instructions }), undefined);
  for (const instructions of ['', 'x'.repeat(4097), 7]) assert.match(refusal({ ...valid, instructions }) ?? 'parsed', /^instructions: /);
});

test('output_behavior: create_new, or update_existing into the input store itself', () => {
  assert.equal(refusal({ ...valid, output_behavior: { type: 'create_new' } }), undefined);
  assert.equal(refusal({ ...valid, output_behavior: { type: 'update_existing', memory_store_id: STORE } }), undefined);
  const table: [unknown, RegExp][] = [
    [{ type: 'update_existing', memory_store_id: 'memstore_other' }, /^output_behavior\.memory_store_id: must be the memory store in inputs$/],
    [{ type: 'update_existing' }, /^output_behavior\.memory_store_id: Required$/],
    [{ type: 'overwrite' }, /^output_behavior\.type: /],
    [null, /^output_behavior: /],
  ];
  for (const [behavior, message] of table) assert.match(refusal({ ...valid, output_behavior: behavior }) ?? 'parsed', message, JSON.stringify(behavior));
});

test('list query: statuses as one value or repeated (with or without []), timestamps normalized, include_archived as text', () => {
  const parse = (query: Record<string, unknown>) => DreamListQuery.parse(query);
  assert.deepEqual(parse({ statuses: 'running' }).statuses, 'running');
  assert.deepEqual(parse({ statuses: ['running', 'failed'] }).statuses, ['running', 'failed']);
  assert.deepEqual(parse({ 'statuses[]': ['pending', 'canceled'] })['statuses[]'], ['pending', 'canceled']);
  assert.equal(DreamListQuery.safeParse({ statuses: 'sleeping' }).success, false);
  assert.equal(DreamListQuery.safeParse({ 'statuses[]': ['running', 'sleeping'] }).success, false);
  const times = parse({ 'created_at[gt]': '2026-04-01T12:00:00+02:00', 'created_at[lt]': '2026-04-02' });
  assert.deepEqual([times['created_at[gt]'], times['created_at[lt]']], ['2026-04-01T10:00:00.000Z', '2026-04-02T00:00:00.000Z']);
  assert.equal(DreamListQuery.safeParse({ 'created_at[gt]': 'yesterday' }).success, false);
  assert.equal(parse({ include_archived: 'true' }).include_archived, true);
  assert.equal(parse({ include_archived: 'false' }).include_archived, false);
});

test('a dream record: model always an object, nullable fields null until set', () => {
  const dream = {
    type: 'dream',
    id: 'drm_1',
    status: 'pending',
    inputs: [store, sessions(['sesn_a', 'sesn_b'])],
    model: { id: 'claude-sonnet-5-5', speed: 'standard' },
    instructions: null,
    output_behavior: { type: 'create_new' },
    outputs: [],
    session_id: null,
    error: null,
    usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    created_at: '2026-04-01T12:00:00.000Z',
    ended_at: null,
    archived_at: null,
  };
  assert.deepEqual(Dream.parse(dream), dream);
  assert.equal(Dream.safeParse({ ...dream, model: 'claude-sonnet-5-5' }).success, false);
  assert.equal(Dream.safeParse({ ...dream, status: 'sleeping' }).success, false);
});
