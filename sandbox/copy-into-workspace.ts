import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { getContainerRuntimeClient } from 'testcontainers';
import { CONTAINER_PATHS, SANDBOX_GID, SANDBOX_UID } from './sandbox-resources.ts';
import type { Sandbox } from './types.ts';

/** One file to place in the sandbox. */
export type WorkspaceCopy = {
  /** Names the file in errors (e.g. its file id). */
  name: string;
  /** The file's bytes, read once, as the copy goes (e.g. chunks from the store, or `createReadStream(path)`). */
  content: AsyncIterable<Uint8Array>;
  /** Absolute path inside the container, under `/workspace` or `/mnt/session`. */
  containerPath: string;
  sizeBytes: number;
};

/** A file's content is not the size it was recorded with (changed or removed since). */
export class ContentSizeMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContentSizeMismatchError';
  }
}

const BLOCK = 512;

/** The container trees backed by the session's volumes: the only places files can be put. */
const WRITABLE_ROOTS = [CONTAINER_PATHS.workspace, CONTAINER_PATHS.session] as const;

/**
 * Copies files into a started sandbox's `/workspace` or `/mnt/session` volume
 * through the Docker archive API (the container's root is read-only; the volumes are
 * not, and Docker writes to volumes of read-only containers). Files and the folders it
 * creates belong to the sandbox user, so the agent can read, edit and remove
 * them. Bytes are streamed, never held in memory; an existing file is replaced.
 *
 * @example
 * const sandbox = await driver.ensure(spec);
 * await copyIntoWorkspace({ sandbox, files: [{ name: 'data.csv', content: createReadStream('data.csv'), containerPath: '/workspace/data.csv', sizeBytes: 1234 }] });
 */
export async function copyIntoWorkspace({ sandbox, files }: { sandbox: Sandbox; files: readonly WorkspaceCopy[] }): Promise<void> {
  if (files.length === 0) return;
  const byRoot = new Map<string, WorkspaceCopy[]>();
  for (const file of files) {
    const root = WRITABLE_ROOTS.find((r) => file.containerPath.startsWith(`${r}/`));
    if (root === undefined || posix.normalize(file.containerPath) !== file.containerPath) {
      throw new TypeError(`cannot copy into ${file.containerPath}: only normalised paths under ${WRITABLE_ROOTS.join(' or ')} are writable`);
    }
    byRoot.set(root, [...(byRoot.get(root) ?? []), file]);
  }
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  for (const [root, rootFiles] of byRoot) {
    await docker.getContainer(sandbox.containerId).putArchive(Readable.from(tarEntries(rootFiles, root)), { path: root });
  }
}

/** A ustar archive of `files`, with entries relative to `root` and their parent folders first. */
async function* tarEntries(files: readonly WorkspaceCopy[], root: string): AsyncGenerator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  const folders = new Set<string>();
  for (const file of files) {
    const relative = posix.relative(root, file.containerPath);
    const parts = relative.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      if (folders.has(folder)) continue;
      folders.add(folder);
      yield header({ name: `${folder}/`, mode: 0o755, size: 0, type: '5', mtime });
    }
    yield header({ name: relative, mode: 0o644, size: file.sizeBytes, type: '0', mtime });
    let copied = 0;
    for await (const chunk of file.content) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      copied += buffer.length;
      if (copied > file.sizeBytes) throw new ContentSizeMismatchError(`${file.name} grew past its recorded ${file.sizeBytes} bytes`);
      yield buffer;
    }
    if (copied !== file.sizeBytes) throw new ContentSizeMismatchError(`${file.name} holds ${copied} bytes, not the recorded ${file.sizeBytes}`);
    const padding = (BLOCK - (copied % BLOCK)) % BLOCK;
    if (padding > 0) yield Buffer.alloc(padding);
  }
  yield Buffer.alloc(2 * BLOCK);
}

function header({ name, mode, size, type, mtime }: { name: string; mode: number; size: number; type: '0' | '5'; mtime: number }): Buffer {
  const block = Buffer.alloc(BLOCK);
  const [prefix, base] = splitName(name);
  block.write(base, 0, 100, 'utf8');
  block.write(octal(mode, 7), 100, 'ascii');
  block.write(octal(SANDBOX_UID, 7), 108, 'ascii');
  block.write(octal(SANDBOX_GID, 7), 116, 'ascii');
  block.write(octal(size, 11), 124, 'ascii');
  block.write(octal(mtime, 11), 136, 'ascii');
  block.write(' '.repeat(8), 148, 'ascii');
  block.write(type, 156, 'ascii');
  block.write('ustar\u000000', 257, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${octal(sum, 6)}\u0000 `, 148, 'ascii');
  return block;
}

/** ustar keeps long names as a prefix (≤155 bytes) and a name (≤100 bytes) split at a slash. */
function splitName(name: string): [prefix: string, base: string] {
  if (Buffer.byteLength(name) <= 100) return ['', name];
  for (let at = name.indexOf('/'); at !== -1; at = name.indexOf('/', at + 1)) {
    const prefix = name.slice(0, at);
    const base = name.slice(at + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100 && base !== '') return [prefix, base];
  }
  throw new TypeError(`path ${name} is too long for the sandbox copy (at most 255 bytes, no part over 100)`);
}

function octal(value: number, digits: number): string {
  return value.toString(8).padStart(digits, '0');
}
