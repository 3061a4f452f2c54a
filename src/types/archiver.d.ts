/**
 * The part of `archiver` (a zip and tar writer, MIT) that Longhaul uses; the package ships
 * no types of its own.
 */
declare module 'archiver' {
  import type { Readable } from 'node:stream';

  namespace archiver {
    interface EntryData {
      /** The member's path in the archive. */
      name: string;
      date?: Date | string;
      /** Unix permission bits of the member. */
      mode?: number;
    }

    /** A streaming archive: entries go in with `append`, the archive's bytes come out as it is read. */
    interface Archiver extends AsyncIterable<Buffer> {
      append(source: Readable | Buffer | string, data: EntryData): this;
      /** No more entries; resolves once every entry is written. */
      finalize(): Promise<void>;
      on(event: 'error' | 'warning', listener: (error: Error) => void): this;
      abort(): this;
    }
  }

  function archiver(format: 'zip', options?: { zlib?: { level?: number } }): archiver.Archiver;
  export = archiver;
}
