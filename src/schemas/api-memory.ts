import { z } from 'zod';
import { Metadata, MetadataPatch, PageQuery, QueryBoolean, QueryTimestamp, Timestamp, exactOptional } from './api-common.ts';

/** Memory stores, their memories and memory versions (`client.beta.memoryStores`). */

/** The most content one memory holds: 100 kB of UTF-8. */
export const MAX_MEMORY_BYTES = 102_400;
const MAX_PATH_BYTES = 1024;
const MAX_SEGMENTS = 20;

/** Why `path` is not a memory path (the SDK's rules), or undefined when it is one. */
export function memoryPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must start with "/"';
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) return `must be at most ${MAX_PATH_BYTES} bytes`;
  if (path.normalize('NFC') !== path) return 'must be in Unicode Normalization Form C';
  // Control and format characters, and the line and paragraph separators.
  if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(path)) return 'must not hold control or format characters';
  const segments = path.slice(1).split('/');
  if (segments.length > MAX_SEGMENTS) return `must have 1 to ${MAX_SEGMENTS} segments`;
  if (segments.some((s) => s === '')) return 'must not have an empty segment (no "//" and no trailing "/")';
  if (segments.some((s) => s === '.' || s === '..')) return 'must not have "." or ".." segments';
  return undefined;
}

// The pattern tells the document the shape (the refinement is invisible to it); the refinement decides.
const MemoryPath = z
  .string()
  .meta({ pattern: '^(/[^/]+)+$' })
  .superRefine((path, ctx) => {
    const problem = memoryPathProblem(path);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const MemoryContent = z.string().refine((content) => Buffer.byteLength(content, 'utf8') <= MAX_MEMORY_BYTES, `must be at most ${MAX_MEMORY_BYTES} bytes of UTF-8`);

export const MemoryView = z.enum(['basic', 'full']);
export type MemoryView = z.infer<typeof MemoryView>;
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

export const MemoryStoreCreateParams = z.object({
  name: z.string().min(1).max(256),
  description: z.string().max(2048).optional(),
  metadata: Metadata.optional(),
});
export const MemoryStoreUpdateParams = z.object({
  name: z.string().min(1).max(256).nullish(),
  description: z.string().max(2048).nullish(),
  metadata: MetadataPatch.nullish(),
});

export const MemoryStore = z.object({
  id: z.string(),
  type: z.literal('memory_store'),
  name: z.string(),
  description: z.string(),
  metadata: Metadata,
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type MemoryStore = z.infer<typeof MemoryStore>;

export const MemoryCreateParams = z.object({ path: MemoryPath, content: MemoryContent.nullable() });
export const MemoryUpdateParams = z.object({
  path: MemoryPath.nullish(),
  content: MemoryContent.nullish(),
  precondition: z.object({ type: z.literal('content_sha256'), content_sha256: Sha256.optional() }).optional(),
});
export type MemoryUpdateParams = z.infer<typeof MemoryUpdateParams>;

export const Memory = z.object({
  id: z.string(),
  type: z.literal('memory'),
  memory_store_id: z.string(),
  memory_version_id: z.string(),
  path: z.string(),
  content: z.string().nullable(),
  content_sha256: z.string(),
  content_size_bytes: z.number().int(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Memory = z.infer<typeof Memory>;

export const MemoryPrefix = z.object({ type: z.literal('memory_prefix'), path: z.string() });
export type MemoryPrefix = z.infer<typeof MemoryPrefix>;

export const Actor = z.discriminatedUnion('type', [
  z.object({ type: z.literal('session_actor'), session_id: z.string() }),
  z.object({ type: z.literal('api_actor'), api_key_id: z.string() }),
]);
export type Actor = z.infer<typeof Actor>;

export const MemoryVersionOperation = z.enum(['created', 'modified', 'deleted']);

export const MemoryVersion = z.object({
  id: z.string(),
  type: z.literal('memory_version'),
  memory_id: z.string(),
  memory_store_id: z.string(),
  operation: MemoryVersionOperation,
  path: z.string().nullable(),
  content: z.string().nullable(),
  content_sha256: z.string().nullable(),
  content_size_bytes: z.number().int().nullable(),
  created_by: Actor,
  created_at: Timestamp,
  redacted_at: Timestamp.nullable(),
  /** Present once redacted. */
  redacted_by: exactOptional(Actor),
});
export type MemoryVersion = z.infer<typeof MemoryVersion>;

export const MemoryStoreListQuery = PageQuery.extend({
  include_archived: QueryBoolean.optional(),
  'created_at[gte]': QueryTimestamp.optional(),
  'created_at[lte]': QueryTimestamp.optional(),
});
export const MemoryListQuery = PageQuery.extend({
  path_prefix: z
    .string()
    .meta({ pattern: '^/([^/]+/)*$' })
    .optional()
    .refine((prefix) => prefix === undefined || prefix === '/' || (prefix.endsWith('/') && memoryPathProblem(prefix.slice(0, -1)) === undefined), 'must be "/" or a memory path followed by "/"'),
  depth: z.coerce.number().int().min(0).max(20).optional(),
  view: MemoryView.optional(),
});
export const MemoryVersionListQuery = PageQuery.extend({
  memory_id: z.string().optional(),
  operation: MemoryVersionOperation.optional(),
  session_id: z.string().optional(),
  api_key_id: z.string().optional(),
  /** Longhaul has no service accounts: versions are written by API keys and sessions, so this matches none. */
  service_account_id: z.string().optional(),
  'created_at[gte]': QueryTimestamp.optional(),
  'created_at[lte]': QueryTimestamp.optional(),
  view: MemoryView.optional(),
});

// ── Memory stores as session resources ─────────────────────────────────────

/** Where memory stores are mounted in the sandbox. */
export const MEMORY_MOUNT_ROOT = '/mnt/memory';

/** A store's folder name under `/mnt/memory`: its name lowercased, each run of other characters one `-`. */
export function memoryMountSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 56)
    .replace(/-+$/, '');
  return slug === '' ? 'memory' : slug;
}

export const MemoryAccess = z.enum(['read_write', 'read_only']);

/** A `{type:'memory_store'}` entry of `resources` on `sessions.create`. */
export const MemoryStoreResourceParams = z.object({
  type: z.literal('memory_store'),
  memory_store_id: z.string().min(1),
  access: MemoryAccess.nullish(),
  instructions: z.string().max(4096).nullish(),
});
export type MemoryStoreResourceParams = z.infer<typeof MemoryStoreResourceParams>;

/** `BetaManagedAgentsMemoryStoreResource`: the store as attached (name and description as they were then). It has no `id`. */
export const MemoryStoreResource = z.object({
  type: z.literal('memory_store'),
  memory_store_id: z.string(),
  access: MemoryAccess,
  name: z.string(),
  description: z.string(),
  instructions: z.string().nullable(),
  mount_path: z.string(),
});
export type MemoryStoreResource = z.infer<typeof MemoryStoreResource>;
