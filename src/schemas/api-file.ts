import { posix } from 'node:path';
import { z } from 'zod';
import { Timestamp } from './api-common.ts';
import { MemoryStoreResource, MemoryStoreResourceParams } from './api-memory.ts';

/** The Files API (`client.beta.files`) and file resources of sessions (`client.beta.sessions.resources`). */

/** `expires_in_seconds` bounds of `files.upload`: one hour to ninety days. */
export const FILE_EXPIRY_SECONDS = { min: 3600, max: 7_776_000 } as const;

/** The multipart fields of `POST /v1/files` besides the `file` part. */
export const FileUploadFields = z.object({
  expires_in_seconds: z.coerce.number().int().min(FILE_EXPIRY_SECONDS.min).max(FILE_EXPIRY_SECONDS.max).optional(),
});

export const FileScope = z.object({ type: z.literal('session'), id: z.string() });

/** `BetaFileMetadata`. */
export const FileMetadata = z.object({
  type: z.literal('file'),
  id: z.string(),
  filename: z.string(),
  mime_type: z.string(),
  size_bytes: z.number().int(),
  created_at: Timestamp,
  downloadable: z.boolean(),
  expires_at: Timestamp.nullable(),
  scope: FileScope.nullable(),
});
export type FileMetadata = z.infer<typeof FileMetadata>;

/** `BetaDeletedFile`. */
export const DeletedFile = z.object({ id: z.string(), type: z.literal('file_deleted') });

/**
 * Where a file lands when `mount_path` is omitted, as the SDK documents. `/mnt/session`
 * is a volume of the session's own, so a replaced container keeps the files.
 */
export const defaultMountPath = (fileId: string) => `/mnt/session/uploads/${fileId}`;

/** Relative mount paths are taken from here. */
export const WORKSPACE_ROOT = '/workspace';

/** The in-container trees Longhaul can place files in: each is a session volume (the root is read-only). */
export const MOUNT_ROOTS = ['/workspace', '/mnt/session'] as const;

/**
 * The absolute, normalised in-container path for a `mount_path`: relative paths
 * are taken from `/workspace`; the result must lie inside `/workspace` or
 * `/mnt/session`. Returns undefined when it does not.
 */
export function resolveMountPath(mountPath: string | null | undefined, fileId: string): string | undefined {
  if (mountPath == null || mountPath === '') return defaultMountPath(fileId);
  if (mountPath.includes('\0')) return undefined;
  const resolved = posix.resolve(WORKSPACE_ROOT, mountPath);
  return MOUNT_ROOTS.some((root) => resolved.startsWith(`${root}/`)) && Buffer.byteLength(resolved) <= 255 ? resolved : undefined;
}

/** A `{type:'file'}` entry of `resources` on `sessions.create`, and the body of `sessions.resources.add`. */
export const FileResourceParams = z.object({
  type: z.literal('file'),
  file_id: z.string().min(1),
  mount_path: z
    .string()
    .max(255)
    .nullish()
    .refine((path) => resolveMountPath(path, 'file_x') !== undefined, { message: `must lie under ${MOUNT_ROOTS.join(' or ')} (the rest of the sandbox is read-only)` }),
});
export type FileResourceParams = z.infer<typeof FileResourceParams>;

const unsupportedResource = (type: string) =>
  z
    .object({ type: z.literal(type) })
    .loose()
    .refine(() => false, { message: `${type} resources are not supported by Longhaul yet`, path: ['type'] });

/** An entry of `resources` on `sessions.create`: files and memory stores are mounted; repositories are refused by name. */
export const SessionResourceParams = z.discriminatedUnion('type', [FileResourceParams, MemoryStoreResourceParams, unsupportedResource('github_repository')]);
export type SessionResourceParams = z.infer<typeof SessionResourceParams>;

/** `BetaManagedAgentsFileResource`. */
export const FileResource = z.object({
  type: z.literal('file'),
  id: z.string(),
  file_id: z.string(),
  mount_path: z.string(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type FileResource = z.infer<typeof FileResource>;

/** `BetaManagedAgentsSessionResource` as Longhaul makes them. */
export const SessionResource = z.union([FileResource, MemoryStoreResource]);
export type SessionResource = z.infer<typeof SessionResource>;

/** `BetaManagedAgentsDeleteSessionResource`. */
export const DeletedSessionResource = z.object({ id: z.string(), type: z.literal('session_resource_deleted') });
