import { z } from 'zod';

/** RFC 3339 timestamp string, as every API object carries. */
export const Timestamp = z.string();

/** `metadata`: at most 16 pairs, keys up to 64 characters, values up to 512. */
export const Metadata = z
  .record(z.string().min(1).max(64), z.string().max(512))
  .refine((bag) => Object.keys(bag).length <= 16, 'metadata may hold at most 16 keys');
export type Metadata = z.infer<typeof Metadata>;

/** A metadata patch on update: a string upserts the key, `null` deletes it. */
export const MetadataPatch = z.record(z.string().min(1).max(64), z.string().max(512).nullable());
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
  limit: z.coerce.number().int().min(1).optional(),
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
