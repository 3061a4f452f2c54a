import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import { BadRequestError } from './api-errors.ts';

/** The `file` part of an upload, its bytes already stored. */
export type ReceivedFile = {
  /** As sent (paths included); empty when the part had no filename. */
  filename: string;
  /** The part's Content-Type; empty for a part without a filename (whose type clients do not keep). */
  declaredType: string;
  size: number;
};

export type ReceivedUpload = { file: ReceivedFile | undefined; fields: Record<string, string> };

/**
 * Parses a `multipart/form-data` request as it arrives. The bytes of part `file`
 * go straight to `store` (which returns how many it kept), so no upload is ever
 * held in memory whole; the other parts come back as text fields. A second
 * `file` part is refused. If `store` fails the rest of the body is still read
 * (bounded by the route's body limit), then the failure is thrown.
 */
export async function receiveMultipartUpload(request: Request, store: (content: AsyncIterable<Uint8Array>) => Promise<number>): Promise<ReceivedUpload> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!request.body) throw new BadRequestError('body: send multipart/form-data with a `file` part');
  let busboy: BusboyInstance;
  try {
    busboy = Busboy({
      headers: { 'content-type': contentType },
      // The route keeps only the last path component itself, after its own cleaning.
      preservePath: true,
      // Every `file` part is bytes, named or not.
      isPartAFile: (fieldName: string | undefined) => fieldName === 'file',
      limits: { parts: 32, fields: 16, fieldSize: 64 * 1024 },
    });
  } catch (error) {
    throw new BadRequestError(`body: not a multipart/form-data body (${error instanceof Error ? error.message : String(error)})`);
  }

  const fields: Record<string, string> = {};
  let stored: Promise<ReceivedFile> | undefined;
  let failure: unknown;
  busboy.on('file', (_name: string, stream: Readable, filename: string | undefined, _encoding: string, mimeType: string) => {
    if (stored !== undefined) {
      failure ??= new BadRequestError('file: send exactly one `file` part');
      stream.resume();
      return;
    }
    const named = filename !== undefined && filename !== '';
    stored = store(stream.iterator({ destroyOnReturn: false })).then(
      (size) => ({ filename: filename ?? '', declaredType: named ? mimeType : '', size }),
      (error: unknown) => {
        // Drained, so the parser reaches the end and the client gets its answer.
        stream.resume();
        throw error;
      },
    );
    stored.catch(() => undefined);
  });
  busboy.on('field', (name: string, value: string) => {
    fields[name] = value;
  });
  try {
    await pipeline(Readable.fromWeb(request.body as NodeReadableStream<Uint8Array>), busboy);
  } catch (error) {
    await stored?.catch(() => undefined);
    if (error instanceof Error && /multipart|boundary|Unexpected end/i.test(error.message)) throw new BadRequestError(`body: malformed multipart/form-data (${error.message})`);
    throw error;
  }
  const file = await stored;
  if (failure !== undefined) throw failure;
  return { file, fields };
}
