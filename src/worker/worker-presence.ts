import { randomBytes } from 'node:crypto';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

const SOCKET_SUFFIX = '.sock';

/**
 * Which workers share a data folder right now. Each worker listens on a Unix socket in
 * `<dataDir>/workers/`; a socket that accepts a connection is a live worker, one that
 * refuses is left by a dead one (a kill -9) and is removed. Sockets, unlike process ids,
 * mean the same from every container that mounts the folder.
 *
 * A stopping worker asks before removing the folder's sandbox containers: while another
 * worker lives, those containers are its sessions' too, some of them mid-tool-call.
 */
export class WorkerPresence {
  readonly #dir: string;
  readonly #socket: string;
  readonly #server: Server;

  private constructor(dir: string, socket: string, server: Server) {
    this.#dir = dir;
    this.#socket = socket;
    this.#server = server;
  }

  static async announce(dataDir: string): Promise<WorkerPresence> {
    const dir = join(dataDir, 'workers');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const socket = join(dir, `${randomBytes(6).toString('hex')}${SOCKET_SUFFIX}`);
    const server = createServer((connection) => connection.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => resolve());
    });
    // The presence must not keep a stopping process alive.
    server.unref();
    return new WorkerPresence(dir, socket, server);
  }

  /** How many other workers on this data folder answer now; dead ones' sockets are removed. */
  async othersAlive(): Promise<number> {
    const names = (await readdir(this.#dir)).filter((name) => name.endsWith(SOCKET_SUFFIX));
    const others = names.map((name) => join(this.#dir, name)).filter((path) => path !== this.#socket);
    const alive = await Promise.all(
      others.map(async (path) => {
        if (await answers(path)) return true;
        await unlink(path).catch(() => undefined);
        return false;
      }),
    );
    return alive.filter(Boolean).length;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await unlink(this.#socket).catch(() => undefined);
  }
}

/** Whether something accepts connections on the socket within a second. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = createConnection(path);
    const done = (alive: boolean) => {
      clearTimeout(timer);
      connection.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(false), 1000);
    connection.once('connect', () => done(true));
    connection.once('error', () => done(false));
  });
}
