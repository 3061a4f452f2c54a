"""Relays 127.0.0.1:<port> inside a sandbox to the worker's egress proxy on a Unix socket.

A `limited` sandbox has no network interface but loopback; HTTP_PROXY and friends
point at this relay, and the worker-side proxy decides what gets out. The relay
only copies bytes: it knows nothing of the policy, so nothing inside the sandbox
can loosen it.

The executor starts it in its own event loop. Standalone, it serves while a
command runs (the package install step of an environment image):

  python3 egress_relay.py --port 3128 --socket /run/x/egress.sock -- sh install.sh
"""

from __future__ import annotations

import argparse
import asyncio
import sys

CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


async def start_relay(port: int, socket_path: str) -> asyncio.base_events.Server:
    """Listens on 127.0.0.1:`port`; each connection is piped to a new connection to `socket_path`."""

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            proxy_reader, proxy_writer = await asyncio.open_unix_connection(socket_path)
        except OSError as e:
            body = f"the sandbox egress proxy is not reachable ({e.strerror or e}); is the worker serving this sandbox?\n"
            client_writer.write(
                f"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n{body}".encode()
            )
            await _close(client_writer)
            return
        await asyncio.gather(_pipe(client_reader, proxy_writer), _pipe(proxy_reader, client_writer))
        await _close(proxy_writer)
        await _close(client_writer)

    return await asyncio.start_server(handle, host="127.0.0.1", port=port, reuse_address=True)


async def _run_command(port: int, socket_path: str, command: list[str]) -> int:
    server = await start_relay(port, socket_path)
    async with server:
        process = await asyncio.create_subprocess_exec(*command)
        return await process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Longhaul sandbox egress relay")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command to run while relaying")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required")
    sys.exit(asyncio.run(_run_command(args.port, args.socket, command)))


if __name__ == "__main__":
    main()
