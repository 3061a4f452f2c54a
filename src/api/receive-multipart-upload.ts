import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import { BadRequestError } from './api-errors.ts';

/** A file part of an upload, its bytes already stored. */
export type ReceivedFile = {
  /** As sent (paths included); empty when the part had no filename. */
  filename: string;
  /** The part's Content-Type; empty for a part without a filename (whose type clients do not keep). */
  declaredType: string;
  size: number;
};

export type ReceivedUpload = { file: ReceivedFile | undefined; fields: Record<string, string> };

/** A file part as it starts: its field, its filename as sent, and its place among the file parts (0-based). */
export type FilePart = { field: string; filename: string; index: number };

export type ReceiveMultipartOptions = {
  /** Which fields are file parts (their bytes go to `store`); every other part is a text field. */
  isFile: (field: string) => boolean;
  /**
   * Stores one file part's bytes as they arrive and returns how many it kept. Parts come
   * one at a time, in order. A throw fails the upload: the rest of the body is read and
   * dropped, and the first failure is what the caller gets.
   */
  store: (part: FilePart, content: AsyncIterable<Uint8Array>) => Promise<number>;
  /** Parts of any kind, at most. Default 32. */
  maxParts?: number;
};

/**
 * Parses a `multipart/form-data` request as it arrives. The bytes of each file part go
 * straight to `store`, so no upload is ever held in memory whole; the other parts come
 * back as text fields. Reading stops being bounded only by the route's body limit.
 */
export async function receiveMultipartFiles(request: Request, { isFile, store, maxParts = 32 }: ReceiveMultipartOptions): Promise<{ files: ReceivedFile[]; fields: Record<string, string> }> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!request.body) throw new BadRequestError('body: send multipart/form-data');
  let busboy: BusboyInstance;
  try {
    busboy = Busboy({
      headers: { 'content-type': contentType },
      // Routes clean paths themselves.
      preservePath: true,
      // Every file part is bytes, named or not.
      isPartAFile: (fieldName: string | undefined) => fieldName !== undefined && isFile(fieldName),
      limits: { parts: maxParts, fields: 16, fieldSize: 64 * 1024 },
    });
  } catch (error) {
    throw new BadRequestError(`body: not a multipart/form-data body (${error instanceof Error ? error.message : String(error)})`);
  }

  const fields: Record<string, string> = {};
  const stored: Promise<ReceivedFile>[] = [];
  let failure: { error: unknown } | undefined;
  let partsOverLimit = false;
  busboy.on('file', (field: string, stream: Readable, filename: string | undefined, _encoding: string, mimeType: string) => {
    if (failure !== undefined) {
      stream.resume();
      return;
    }
    const named = filename !== undefined && filename !== '';
    const part = { field, filename: filename ?? '', index: stored.length };
    const done = store(part, stream.iterator({ destroyOnReturn: false })).then(
      (size) => ({ filename: part.filename, declaredType: named ? mimeType : '', size }),
      (error: unknown) => {
        failure ??= { error };
        // Drained, so the parser reaches the end and the client gets its answer.
        stream.resume();
        throw error;
      },
    );
    done.catch(() => undefined);
    stored.push(done);
  });
  busboy.on('field', (name: string, value: string) => {
    fields[name] = value;
  });
  busboy.on('partsLimit', () => {
    partsOverLimit = true;
  });
  try {
    await pipeline(Readable.fromWeb(request.body as NodeReadableStream<Uint8Array>), busboy);
  } catch (error) {
    await Promise.allSettled(stored);
    if (error instanceof Error && /multipart|boundary|Unexpected end/i.test(error.message)) throw new BadRequestError(`body: malformed multipart/form-data (${error.message})`);
    throw error;
  }
  const settled = await Promise.allSettled(stored);
  if (failure !== undefined) throw failure.error;
  if (partsOverLimit) throw new BadRequestError(`body: more than ${maxParts} parts`);
  return { files: settled.map((s) => (s as PromiseFulfilledResult<ReceivedFile>).value), fields };
}

/**
 * `receiveMultipartFiles` for an upload of one file, in the part named `file`. A second
 * `file` part is refused.
 */
export async function receiveMultipartUpload(request: Request, store: (content: AsyncIterable<Uint8Array>) => Promise<number>): Promise<ReceivedUpload> {
  if (!request.body) throw new BadRequestError('body: send multipart/form-data with a `file` part');
  const { files, fields } = await receiveMultipartFiles(request, {
    isFile: (field) => field === 'file',
    store: async (part, content) => {
      if (part.index > 0) throw new BadRequestError('file: send exactly one `file` part');
      return store(content);
    },
  });
  return { file: files[0], fields };
}
