import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { FILE_CHUNK_BYTES, FileStore, FileTooLargeError } from '../../src/store/file-store.ts';
import { migrateSchema } from '../../src/store/migrate-schema.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { storeBackends } from '../support/store-backends.ts';

const backends: Record<string, () => Promise<SqlDriver>> = storeBackends();

/** `bytes` in uneven pieces, as a request body arrives. */
async function* pieces(bytes: Buffer, size = 64 * 1024 + 7): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield new Uint8Array(bytes.subarray(at, at + size));
}

async function readAll(files: FileStore, id: string): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of files.readContent(id)) chunks.push(chunk);
  return chunks;
}

for (const [name, openDriver] of Object.entries(backends)) {
  describe(`file content on ${name}`, () => {
    test('bytes go in as chunks and come back unchanged, in order; delete removes them with the file', async () => {
      const driver = await openDriver();
      try {
        await migrateSchema(driver);
        const files = new FileStore(driver);
        // Every byte value, zeros included, across two full chunks and a partial one.
        const bytes = Buffer.concat([Buffer.from([0, 0, 255, 92, 120, 0]), randomBytes(2 * FILE_CHUNK_BYTES + 12_345)]);
        const id = 'file_011Ccontentroundtrip0001';
        assert.equal(await files.writeContent(id, pieces(bytes)), bytes.length);

        const chunks = await readAll(files, id);
        assert.deepEqual(chunks.map((c) => c.length), [FILE_CHUNK_BYTES, FILE_CHUNK_BYTES, bytes.length - 2 * FILE_CHUNK_BYTES]);
        assert.ok(chunks.every((c) => Buffer.isBuffer(c)));
        assert.ok(Buffer.concat(chunks).equals(bytes), 'the same bytes');

        await files.create({ type: 'file', id, filename: 'blob.bin', mime_type: 'application/octet-stream', size_bytes: bytes.length, created_at: new Date().toISOString(), downloadable: true, expires_at: null, scope: null });
        await files.delete(id);
        assert.deepEqual(await readAll(files, id), []);

        const empty = 'file_011Ccontentempty00000001';
        assert.equal(await files.writeContent(empty, pieces(Buffer.alloc(0))), 0);
        assert.deepEqual(await readAll(files, empty), []);
      } finally {
        await driver.close();
      }
    });

    test('more than maxBytes is refused and leaves no chunks behind', async () => {
      const driver = await openDriver();
      try {
        await migrateSchema(driver);
        const files = new FileStore(driver);
        const id = 'file_011Ccontenttoolarge00001';
        const written = files.writeContent(id, pieces(randomBytes(FILE_CHUNK_BYTES + 10)), { maxBytes: FILE_CHUNK_BYTES + 9 });
        await assert.rejects(written, (error: unknown) => error instanceof FileTooLargeError && error.maxBytes === FILE_CHUNK_BYTES + 9);
        assert.deepEqual(await readAll(files, id), [], 'the chunk written before the limit was hit is gone');
      } finally {
        await driver.close();
      }
    });
  });
}
