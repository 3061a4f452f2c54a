import { Readable } from 'node:stream';
import archiver from 'archiver';

/** A file to put in a skill's archive: its path below the skill's folder and its bytes, read when its turn comes. */
export type ArchiveFile = { path: string; content: () => AsyncIterable<Uint8Array> };

/**
 * A skill version as a zip archive, streamed: every file under the folder `name`, its bytes
 * exactly as uploaded, dated `date`. Each file is read from `files` only when the archive
 * reaches it, so the archive is never in memory whole.
 *
 * @example
 * const zip = skillArchive({ name: 'pdf-tools', date: version.created_at, files: [{ path: 'SKILL.md', content: () => store.readContent(id) }] });
 * return new Response(ReadableStream.from(zip), { headers: { 'content-type': 'application/zip' } });
 */
export function skillArchive({ name, date, files }: { name: string; date: string; files: readonly ArchiveFile[] }): AsyncIterable<Buffer> {
  const zip = archiver('zip', { zlib: { level: 6 } });
  for (const file of files) {
    // A stream per file, pulled only once the archive is at that file.
    zip.append(Readable.from(lazily(file.content)), { name: `${name}/${file.path}`, date, mode: 0o644 });
  }
  void zip.finalize().catch(() => undefined);
  return zip;
}

async function* lazily(open: () => AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* open();
}
