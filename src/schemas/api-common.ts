import { z } from 'zod';

/** RFC 3339 timestamp string, as every API object carries. */
export const Timestamp = z.string();

/** The largest integer a PostgreSQL `integer` column holds: every integer the API takes stays below it. */
export const INT32_MAX = 2_147_483_647;

/**
 * A response field that is absent or set, never `undefined` (`key?: T`, as the SDK types it
 * under `exactOptionalPropertyTypes`). zod's `.exactOptional()` has that type, but the
 * OpenAPI generator (zod-to-openapi 9) tells an optional field by whether it parses
 * `undefined`, which `.exactOptional()` refuses, and so lists the field as required: a
 * document every response without the field contradicts. This is `.optional()` at run time,
 * so the document says optional, with `.exactOptional()`'s type.
 */
export function exactOptional<T extends z.ZodType>(schema: T): z.ZodExactOptional<T> {
  return schema.optional() as unknown as z.ZodExactOptional<T>;
}

/** `metadata`: at most 16 pairs, keys up to 64 characters, values up to 512. */
export const Metadata = z
  .record(z.string().min(1).max(64), z.string().max(512))
  .refine((bag) => Object.keys(bag).length <= 16, 'metadata may hold at most 16 keys')
  // The OpenAPI generator drops the key schema and the refinement: say them in the document.
  .meta({ maxProperties: 16, propertyNames: { minLength: 1, maxLength: 64 } });
export type Metadata = z.infer<typeof Metadata>;

/** A metadata patch on update: a string upserts the key, `null` deletes it. */
export const MetadataPatch = z.record(z.string().min(1).max(64), z.string().max(512).nullable()).meta({ propertyNames: { minLength: 1, maxLength: 64 } });
export type MetadataPatch = z.infer<typeof MetadataPatch>;

/** Applies a metadata patch; fails when the result would exceed 16 keys. */
export function applyMetadataPatch(current: Metadata, patch: MetadataPatch | null | undefined): Metadata {
  if (patch === undefined) return current;
  if (patch === null) return {};
  const next: Metadata = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return Metadata.parse(next);
}

/** `limit` and `page` of every `PageCursor` list. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(INT32_MAX).optional(),
  page: z.string().optional(),
});

/** `true`/`false` as the SDK sends booleans in a query string. */
export const QueryBoolean = z.enum(['true', 'false']).transform((v) => v === 'true');

/** The `PageCursor` response: `next_page` is null on the last page. */
export function pageCursorOf<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_page: z.string().nullable() });
}

/** The `BidirectionalPageCursor` response (sessions). */
export function bidirectionalPageOf<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_page: z.string().nullable(), prev_page: z.string().nullable() });
}

/**
 * A timestamp in a query (`created_at[gte]=…`): any ISO 8601 date-time, normalised
 * to UTC with milliseconds, the form stored timestamps have, so text comparison orders them.
 */
export const QueryTimestamp = z
  .string()
  // A subset of what is accepted (a bare date is too), so every value the document allows is.
  .meta({ format: 'date-time' })
  .refine((value) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) && !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 date-time such as 2026-04-01T12:00:00Z')
  .transform((value) => new Date(value).toISOString());

/** The `created_at[gt|gte|lt|lte]` filters of a list query. */
export const CreatedAtQuery = {
  'created_at[gt]': QueryTimestamp.optional(),
  'created_at[gte]': QueryTimestamp.optional(),
  'created_at[lt]': QueryTimestamp.optional(),
  'created_at[lte]': QueryTimestamp.optional(),
};

export type TimeRange = { gt?: string | undefined; gte?: string | undefined; lt?: string | undefined; lte?: string | undefined };

export function createdAtRange(query: { [K in keyof typeof CreatedAtQuery]?: string | undefined }): TimeRange {
  return { gt: query['created_at[gt]'], gte: query['created_at[gte]'], lt: query['created_at[lt]'], lte: query['created_at[lte]'] };
}
