import { createRoute } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { PageQuery, pageCursorOf } from '../../schemas/api-common.ts';
import { DeletedFile, FILE_EXPIRY_SECONDS, FileMetadata, FileUploadFields } from '../../schemas/api-file.ts';
import { FileTooLargeError, type FileStore } from '../../store/file-store.ts';
import { newId } from '../../store/ids.ts';
import { BadRequestError, HttpApiError } from '../api-errors.ts';
import { receiveMultipartUpload } from '../receive-multipart-upload.ts';
import type { ApiApp } from '../api-types.ts';
import { formatZodError } from '../format-zod-error.ts';
import { clampLimit, cursorOf, queryArray } from '../list-query.ts';
import { json } from '../openapi-common.ts';

export type FileRouteDeps = {
  /** Metadata and bytes (the bytes in chunks, so workers on other hosts can mount them). */
  files: FileStore;
  /** Largest upload accepted, in bytes. Default 500 MB. */
  maxFileBytes?: number | undefined;
};

const FileParam = z.object({ file_id: z.string().min(1) });
const tags = ['files'];

/** `client.beta.files`: upload (multipart), list, retrieveMetadata, download, delete. */
export function registerFileRoutes(app: ApiApp, { files, maxFileBytes = 500_000_000 }: FileRouteDeps): void {
  const tooLarge = () => new HttpApiError('request_too_large', `file: larger than the ${maxFileBytes} bytes this server accepts`);

  /** The file's metadata; an expired file is gone for every purpose. */
  const live = async (id: string): Promise<FileMetadata> => {
    const file = await files.retrieve(id);
    if (file.expires_at !== null && Date.parse(file.expires_at) <= Date.now()) {
      throw new HttpApiError('not_found_error', `file ${id} expired at ${file.expires_at}`, { details: { error_code: 'file_expired' } });
    }
    return file;
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/files',
      tags,
      description: 'Upload a file as `multipart/form-data`: part `file` (the bytes, with a filename) and optional `expires_in_seconds` (3600–7776000).',
      // Refused while it streams in; the parser hands the bytes to the store as they come.
      middleware: [bodyLimit({ maxSize: maxFileBytes + 64 * 1024, onError: () => { throw tooLarge(); } })] as const,
      // Documented, not validated: a `request.body` would have the router parse the whole form first.
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: ['file'],
              properties: {
                file: { type: 'string', format: 'binary' },
                expires_in_seconds: { type: 'integer', minimum: FILE_EXPIRY_SECONDS.min, maximum: FILE_EXPIRY_SECONDS.max },
              },
            },
          },
        },
      },
      responses: { 200: json(FileMetadata, 'The stored file') },
    }),
    async (c) => {
      if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('multipart/form-data')) {
        throw new BadRequestError('body: send multipart/form-data with a `file` part');
      }
      const id = newId('file');
      let upload;
      try {
        upload = await receiveMultipartUpload(c.req.raw, (content) => files.writeContent(id, content, { maxBytes: maxFileBytes }));
      } catch (error) {
        await files.deleteContent(id);
        if (error instanceof FileTooLargeError) throw tooLarge();
        throw error;
      }
      const part = upload.file;
      if (part === undefined) throw new BadRequestError('file: Required');
      const fields = FileUploadFields.safeParse({ expires_in_seconds: upload.fields['expires_in_seconds'] });
      if (!fields.success) {
        await files.deleteContent(id);
        throw new BadRequestError(formatZodError(fields.error, upload.fields));
      }
      const createdAt = new Date();
      const mimeType = mimeTypeOf(part.declaredType, part.filename);
      const metadata: FileMetadata = {
        type: 'file',
        id,
        filename: sanitizeFilename(part.filename, mimeType),
        mime_type: mimeType,
        size_bytes: part.size,
        created_at: createdAt.toISOString(),
        downloadable: true,
        expires_at: fields.data.expires_in_seconds === undefined ? null : new Date(createdAt.getTime() + fields.data.expires_in_seconds * 1000).toISOString(),
        scope: null,
      };
      try {
        return c.json(await files.create(metadata), 200);
      } catch (error) {
        await files.deleteContent(id);
        throw error;
      }
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/files',
      tags,
      request: { query: PageQuery.extend({ scope_id: z.string().optional(), ids: z.union([z.string(), z.array(z.string())]).optional(), 'ids[]': z.union([z.string(), z.array(z.string())]).optional() }) },
      responses: { 200: json(pageCursorOf(FileMetadata), 'Files, newest first') },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const ids = queryArray<string>(query, 'ids');
      if (ids) {
        const unique = [...new Set(ids)];
        if (unique.length > 100) throw new BadRequestError('ids: at most 100 ids');
        if (query.page || query.limit !== undefined) throw new BadRequestError('ids: cannot be combined with page or limit');
        const page = await files.list({ limit: unique.length, ids: unique, scopeId: query.scope_id });
        return c.json({ data: page.data, next_page: null }, 200);
      }
      const page = await files.list({ limit: clampLimit(query.limit, { max: 1000 }), cursor: cursorOf(query.page), scopeId: query.scope_id });
      return c.json({ data: page.data, next_page: page.next_page }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/files/{file_id}', tags, request: { params: FileParam }, responses: { 200: json(FileMetadata, 'The file metadata') } }),
    async (c) => c.json(await files.retrieve(c.req.valid('param').file_id), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/files/{file_id}/content',
      tags,
      request: { params: FileParam },
      responses: {
        200: {
          description: 'The bytes, with the MIME type the file was stored with',
          headers: {
            'content-length': { required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
            'content-disposition': { required: true, schema: { type: 'string', pattern: '^attachment; ' } },
          },
          content: { '*/*': { schema: z.string().meta({ format: 'binary' }) } },
        },
      },
    }),
    async (c) => {
      const file = await live(c.req.valid('param').file_id);
      if (!file.downloadable) throw new HttpApiError('invalid_request_error', `file ${file.id} is not downloadable`, { details: { error_code: 'file_not_downloadable' } });
      return c.body(ReadableStream.from(files.readContent(file.id)) as ReadableStream<Uint8Array>, 200, {
        'content-type': file.mime_type,
        'content-length': String(file.size_bytes),
        'content-disposition': contentDisposition(file.filename),
      });
    },
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/v1/files/{file_id}', tags, request: { params: FileParam }, responses: { 200: json(DeletedFile, 'Deleted') } }),
    async (c) => {
      const id = c.req.valid('param').file_id;
      await files.delete(id);
      return c.json({ id, type: 'file_deleted' as const }, 200);
    },
  );
}

const MIME_BY_EXTENSION: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  html: 'text/html',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  zip: 'application/zip',
};

/** The part's own type, else a guess from the extension, else bytes. */
function mimeTypeOf(partType: string, filename: string): string {
  const declared = partType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(declared) && declared !== 'application/octet-stream') return partType.trim();
  const extension = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase();
  return (extension && MIME_BY_EXTENSION[extension]) ?? 'application/octet-stream';
}

/**
 * Only the last path component survives, without control characters; an empty
 * name becomes `unnamed` plus the extension of its MIME type (as the API documents).
 */
export function sanitizeFilename(name: string, mimeType: string): string {
  const base = (name.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  const cleaned = base === '.' || base === '..' ? '' : base;
  if (cleaned !== '') return truncateUtf8(cleaned, 255);
  const extension = Object.entries(MIME_BY_EXTENSION).find(([, mime]) => mime === mimeType)?.[0];
  return extension ? `unnamed.${extension}` : 'unnamed';
}

function truncateUtf8(value: string, maxBytes: number): string {
  let out = value;
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}

/** `attachment` with an ASCII fallback and the exact name in RFC 5987 form. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
