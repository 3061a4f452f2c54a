import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that is free now, for a server that binds it later: a child
 * process told the port, or a server stopped and started again on the same port.
 *
 * It is picked below the kernel's ephemeral range. Ports in that range are what every
 * outgoing connection gets as its source port and what every bind to port 0 gets, and a
 * source port in use keeps a server from listening there (EADDRINUSE). A port picked in
 * the range could be taken that way between the check and the bind: a Temporal server
 * restarted on its port then stops at once ("can't set frontend port …: bind: address
 * already in use"), as it does while any connection on the machine has that source port.
 * Nothing hands out a port outside the range unless asked for it by number.
 *
 * Below 32768 where the range allows (Linux's starts there): Temporal's server keeps its
 * membership ports in a `smallint` column.
 */
export async function freePort(): Promise<number> {
  for (const [port, at] of handedOut) if (Date.now() - at >= HANDED_OUT_FOR_MS) handedOut.delete(port);
  const [low, high] = await ephemeralRange();
  const below: Range = [FLOOR, Math.min(low, SIGNED_16_BIT) - 1];
  const above: Range = [high + 1, 65_535];
  const room = (r: Range) => r[1] - r[0] + 1;
  const range = room(below) >= MIN_ROOM ? below : room(above) >= MIN_ROOM ? above : undefined;
  if (range) {
    for (let i = 0; i < TRIES; i++) {
      const port = range[0] + Math.floor(Math.random() * room(range));
      if (handedOut.has(port) || !(await bindable(port))) continue;
      // Checked again: another call may have picked the same number while this one bound it.
      if (handedOut.has(port)) continue;
      handedOut.set(port, Date.now());
      return port;
    }
  }
  // A range configured to leave no room outside it, or a crowded one: any port the kernel gives.
  return anyFreePort();
}

type Range = [first: number, last: number];

/**
 * Ports this process handed out lately, not yet bound by whoever asked: calls made together
 * (a server's eleven ports) would otherwise meet on one number now and then, as random picks
 * do (about once in 300 sets of eleven), and the server fails to bind the second. Older
 * entries are dropped as each call starts.
 */
const handedOut = new Map<number, number>();
const HANDED_OUT_FOR_MS = 5 * 60_000;

/** Below this are the ports well-known services are configured on (PostgreSQL's 5432, Temporal's 7233, 8080, …). */
const FLOOR = 16_384;
/** Fewer candidates than this, and random picks would meet each other too often. */
const MIN_ROOM = 4096;
const TRIES = 64;
const SIGNED_16_BIT = 32_768;

/** Linux's ephemeral port range; elsewhere (or unreadable), the IANA one most systems use. */
async function ephemeralRange(): Promise<Range> {
  try {
    const [low, high] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! <= high!) return [low!, high!];
  } catch {
    // Not Linux, or no /proc.
  }
  return [49_152, 65_535];
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
