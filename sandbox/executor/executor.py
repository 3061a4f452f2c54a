"""Longhaul's in-sandbox executor: runs the built-in tools, each `tool_use_id` at most once.

It is the container's main process (under Docker's init), runs as root with only
CAP_SETUID, CAP_SETGID and CAP_KILL, and runs every tool as the sandbox user (see
identity.py). It serves newline-delimited JSON on a Unix socket in a host folder
bind-mounted at /run/longhaul, which only root can enter: the agent can neither reach
nor replace the socket, nor touch the journal beside it.

  {"id": 1, "op": "run", "tool_use_id": "toolu_…", "name": "bash", "input": {…}, "timeout_ms": 120000}
  {"id": 1, "ok": true, "result": {"content": [{"type": "text", "text": "…"}], "is_error": false}}

  {"id": 2, "op": "cancel", "tool_use_id": "toolu_…"}  -> {"id": 2, "ok": true, "result": {"cancelled": true}}
  {"id": 3, "op": "ping"}                               -> {"id": 3, "ok": true, "result": {"pong": true, …}}

  {"id": 4, "op": "memory_scan", "known": {"<slug>": {"/path.md": "<sha256>"}}}
      -> {"id": 4, "ok": true, "result": {"changed": [{"store", "path", "sha256", "content"}], "deleted": [{"store", "path"}],
                                          "rejected": [{"store", "path", "reason"}], "truncated": false}}
  {"id": 5, "op": "memory_apply", "writes": [{"store", "path", "content", "expect_sha256": "<sha256>"|null}],
                                  "deletes": [{"store", "path", "expect_sha256": "<sha256>"}]}
      -> {"id": 5, "ok": true, "result": {"skipped": [{"store", "path"}]}}
     Memory stores mounted at /mnt/memory/<slug> (see memory_sync.py); each write or delete
     happens only if the file still has the expected content.

Requests on one connection run concurrently; replies carry the request's `id` and may
come back in any order. A protocol problem gets `{"ok": false, "error": {"type", "message"}}`;
a tool failing, or bad tool input, is a normal result with `is_error: true`.

Python 3.11 standard library only: the sandbox image has python3 and nothing else of ours.
"""

from __future__ import annotations

import sys

# The executor never speaks TLS (the egress relay only copies bytes), and asyncio's
# optional `ssl` import is about a third of the executor's start-up: CPU that every
# session's container start pays. A None entry makes `import ssl` fail, which asyncio
# handles as a Python built without ssl. Commands the agent runs are other processes.
sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]

import argparse
import asyncio
import json
import os
import shutil
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from bash_session import BashSession, run_bash_tool
from disk import WRITING_TOOLS, disk_full, with_disk_full
from egress_relay import start_relay
from file_tools import edit_tool, read_tool, write_tool
from identity import configure as configure_identity
from identity import sandbox_user_threads
from journal import Journal
from memory_sync import MemorySync, ScanReply
from output import Interrupted, Outcome, ToolInputError, error
from pid_guard import PidGuard
from search_tools import glob_tool, grep_tool, python_grep

PROTOCOL_VERSION = 1
TOOL_NAMES = ("bash", "read", "write", "edit", "glob", "grep")
INTERRUPTED_BY_RESTART = (
    "[interrupted: the sandbox executor restarted while this tool call was running. "
    "It was not run again; its effects, if any, are unknown. Check the state before retrying.]"
)
NOT_STARTED = "[interrupted: the call was cancelled before it started]"
EARLY_CANCEL_SECONDS = 60
# A request line may carry a whole file for `write`.
MAX_LINE_BYTES = 256 * 1024 * 1024
# Shells side by side in one sandbox (one per thread of a multi-agent session).
MAX_SHELLS = 64


@dataclass
class Execution:
    tool_use_id: str
    name: str
    started_at: float
    result: asyncio.Future[Outcome]
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    # The shell a bash call runs in ("" unless the caller names one).
    shell: str = ""


class Executor:
    def __init__(self, *, state_dir: str, workspace: str, output_limit: int, default_timeout_ms: int) -> None:
        self.boot_id = uuid.uuid4().hex
        self.journal = Journal(state_dir)
        self.workspace = workspace
        self.output_limit = output_limit
        self.default_timeout_ms = default_timeout_ms
        self.running: dict[str, Execution] = {}
        self.early_cancels: dict[str, float] = {}
        # A shell per caller (each thread of a multi-agent session has its own; "" is the
        # session's primary): the calls of one shell take turns, shells run side by side.
        self.shells: dict[str, tuple[BashSession, asyncio.Lock]] = {}
        # The file tools touch the filesystem as the sandbox user, never as root.
        self.tool_threads = sandbox_user_threads()
        self.pid_guard = PidGuard()
        self.pid_guard_task: asyncio.Task[None] | None = None

    async def run(self, tool_use_id: str, name: str, tool_input: Any, timeout_ms: int | None, shell: str = "") -> Outcome:
        """Runs the call, or re-attaches to it, or returns its recorded result."""
        # No await between the lookups and registering a new execution: a concurrent
        # request for the same id must find one or the other.
        execution = self.running.get(tool_use_id)
        if execution is None:
            record = self.journal.load(tool_use_id)
            if record is not None:
                if record.get("status") == "done" and isinstance(record.get("result"), dict):
                    return record["result"]
                # Marked running by an executor that is gone: never run it a second time.
                return await self._finish_orphan(tool_use_id, name, record)
            execution = self._start(tool_use_id, name, tool_input, timeout_ms, shell)
            cancelled_at = self.early_cancels.pop(tool_use_id, None)
            if cancelled_at is not None and time.monotonic() - cancelled_at < EARLY_CANCEL_SECONDS:
                execution.cancelled.set()
        # A client that goes away must not cancel the execution other clients may wait on.
        return await asyncio.shield(execution.result)

    async def _finish_orphan(self, tool_use_id: str, name: str, record: dict[str, Any]) -> Outcome:
        result = error(INTERRUPTED_BY_RESTART)
        started_at = float(record.get("started_at", time.time()))
        await asyncio.to_thread(self.journal.mark_done, tool_use_id, str(record.get("name", name)), self.boot_id, started_at, result)
        return result

    def _start(self, tool_use_id: str, name: str, tool_input: Any, timeout_ms: int | None, shell: str) -> Execution:
        loop = asyncio.get_running_loop()
        execution = Execution(tool_use_id, name, time.time(), loop.create_future(), shell=shell)
        # Registered before any await, so a concurrent request for the id re-attaches.
        self.running[tool_use_id] = execution
        asyncio.create_task(self._execute(execution, tool_input, timeout_ms or self.default_timeout_ms))
        return execution

    async def _execute(self, execution: Execution, tool_input: Any, timeout_ms: int) -> None:
        try:
            # The journal says "running" before the tool can have any effect.
            await asyncio.to_thread(self.journal.mark_running, execution.tool_use_id, execution.name, self.boot_id)
        except OSError as e:
            self.running.pop(execution.tool_use_id, None)
            execution.result.set_exception(e)
            return
        try:
            if execution.cancelled.is_set():
                result = error(NOT_STARTED)
            else:
                result = await self._dispatch(execution, tool_input, timeout_ms)
        except ToolInputError as e:
            result = error(f"Invalid input for {execution.name}: {e}")
        except Exception as e:  # noqa: BLE001 - a tool bug is reported to the model, not hidden
            result = error(f"{execution.name} failed inside the sandbox executor: {type(e).__name__}: {e}")
        if execution.name in WRITING_TOOLS:
            full = await asyncio.to_thread(disk_full, self.workspace)
            if full is not None:
                result = with_disk_full(result, full)
        try:
            await asyncio.to_thread(
                self.journal.mark_done, execution.tool_use_id, execution.name, self.boot_id, execution.started_at, result
            )
        except OSError as e:
            # The result is still returned; a repeat of the id would then see "interrupted".
            print(f"longhaul-executor: could not journal {execution.tool_use_id}: {e}", file=sys.stderr)
        self.running.pop(execution.tool_use_id, None)
        execution.result.set_result(result)

    async def _dispatch(self, execution: Execution, tool_input: Any, timeout_ms: int) -> Outcome:
        name = execution.name
        if name not in TOOL_NAMES:
            return error(f"Unknown tool {name!r}; the sandbox runs {', '.join(TOOL_NAMES)}")
        if not isinstance(tool_input, dict):
            return error(f"Invalid input for {name}: expected a JSON object")
        limit = self.output_limit
        ws = self.workspace
        if name == "bash":
            return await self._bash(execution, tool_input, timeout_ms)
        if name == "grep" and shutil.which("rg") is not None:
            return await grep_tool(tool_input, workspace=ws, output_limit=limit, timeout_ms=timeout_ms, cancelled=execution.cancelled)
        tools: dict[str, Callable[[Callable[[], None]], Outcome]] = {
            "read": lambda check: read_tool(tool_input, workspace=ws, output_limit=limit, check=check),
            "write": lambda check: write_tool(tool_input, workspace=ws),
            "edit": lambda check: edit_tool(tool_input, workspace=ws),
            "glob": lambda check: glob_tool(tool_input, workspace=ws, output_limit=limit, check=check),
            "grep": lambda check: python_grep(tool_input, workspace=ws, output_limit=limit, check=check),
        }
        return await self._in_thread(execution, tools[name], timeout_ms)

    def shell(self, name: str) -> tuple[BashSession, asyncio.Lock]:
        found = self.shells.get(name)
        if found is None:
            if len(self.shells) >= MAX_SHELLS:
                raise ToolInputError(f"the sandbox already runs {MAX_SHELLS} shells")
            session = BashSession(cwd=self.workspace, env=_shell_env(), alone=lambda: all(s is session or s.pid is None for s, _ in self.shells.values()))
            found = self.shells[name] = (session, asyncio.Lock())
            # The guard starts with the first shell: only a shell starts the agent's processes,
            # and a warm container waiting for its session need not wake four times a second.
            if self.pid_guard_task is None:
                self.pid_guard_task = asyncio.ensure_future(self.pid_guard.run())
        return found

    async def _bash(self, execution: Execution, tool_input: dict[str, Any], timeout_ms: int) -> Outcome:
        bash, bash_turn = self.shell(execution.shell)
        turn = asyncio.ensure_future(bash_turn.acquire())
        cancel_wait = asyncio.ensure_future(execution.cancelled.wait())
        try:
            await asyncio.wait({turn, cancel_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancel_wait.cancel()
        if not turn.done() or execution.cancelled.is_set():
            turn.cancel()
            if turn.done() and not turn.cancelled():
                bash_turn.release()
            return error(NOT_STARTED)
        kills_before = self.pid_guard.kills
        try:
            result = await run_bash_tool(
                bash, tool_input, timeout_ms=timeout_ms, cancelled=execution.cancelled, output_limit=self.output_limit
            )
        finally:
            bash_turn.release()
        if self.pid_guard.kills != kills_before:
            text = "".join(block.get("text", "") for block in result["content"])
            return error(f"{text}{'' if not text or text.endswith(chr(10)) else chr(10)}{self.pid_guard.note()}")
        return result

    async def _in_thread(self, execution: Execution, tool: Callable[[Callable[[], None]], Outcome], timeout_ms: int) -> Outcome:
        stop = threading.Event()

        def check() -> None:
            if stop.is_set():
                raise Interrupted()

        work = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(self.tool_threads, tool, check))
        cancel_wait = asyncio.ensure_future(execution.cancelled.wait())
        try:
            done, _ = await asyncio.wait({work, cancel_wait}, timeout=timeout_ms / 1000, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancel_wait.cancel()
        if work in done:
            try:
                return work.result()
            except Interrupted:
                pass
        stop.set()
        # Let the tool reach a check point so it stops before the call is answered.
        await asyncio.wait({work}, timeout=2)
        if execution.cancelled.is_set():
            return error(f"[interrupted: the {execution.name} call was cancelled]")
        return error(f"[timed out after {timeout_ms} ms: the {execution.name} call was stopped]")

    def cancel(self, tool_use_id: str) -> bool:
        execution = self.running.get(tool_use_id)
        if execution is None:
            # The cancel may overtake its run (sent on another connection): a run for
            # this id that arrives soon after is interrupted before it starts.
            now = time.monotonic()
            self.early_cancels = {k: t for k, t in self.early_cancels.items() if now - t < EARLY_CANCEL_SECONDS}
            if self.journal.load(tool_use_id) is None:
                self.early_cancels[tool_use_id] = now
            return False
        execution.cancelled.set()
        return True

    def ping(self) -> dict[str, Any]:
        return {"pong": True, "protocol": PROTOCOL_VERSION, "boot_id": self.boot_id, "pid": os.getpid(), "uid": os.getuid()}


def _shell_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LANG", "C.UTF-8")
    env.setdefault("HOME", "/home/agent")
    # Nothing here is a terminal: keep tools from paging or colouring.
    env.update({"TERM": "dumb", "PAGER": "cat", "GIT_PAGER": "cat", "NO_COLOR": "1"})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class Server:
    def __init__(self, executor: Executor, memory: MemorySync) -> None:
        self.executor = executor
        self.memory = memory

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._reply(writer, None, error_type="bad_request", message="request line too long")
                    break
                except ConnectionError:
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                task = asyncio.create_task(self._serve(writer, line))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            # Executions outlive their connection (they are shielded); only replies are dropped.
            for task in tasks:
                task.cancel()
            writer.close()

    async def _serve(self, writer: asyncio.StreamWriter, line: bytes) -> None:
        request_id: Any = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            request_id = request.get("id")
            result = await self._answer(request)
        except (ValueError, KeyError, TypeError) as e:
            await self._reply(writer, request_id, error_type="bad_request", message=str(e))
            return
        except OSError as e:
            await self._reply(writer, request_id, error_type="executor_error", message=f"{type(e).__name__}: {e}")
            return
        await self._reply(writer, request_id, result=result)

    async def _answer(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op == "ping":
            return self.executor.ping()
        if op == "cancel":
            return {"cancelled": self.executor.cancel(_require_id(request))}
        if op == "memory_scan":
            return await self._memory_scan(_known_manifest(request.get("known")))
        if op == "memory_apply":
            writes = _memory_changes(request.get("writes"), content=True)
            deletes = _memory_changes(request.get("deletes"), content=False)
            return await self._memory_apply(writes, deletes)
        if op == "run":
            name = request.get("name")
            if not isinstance(name, str):
                raise ValueError("`name` must be a string")
            timeout_ms = request.get("timeout_ms")
            if timeout_ms is not None and (not isinstance(timeout_ms, (int, float)) or timeout_ms <= 0):
                raise ValueError("`timeout_ms` must be a positive number")
            shell = request.get("shell", "")
            if not isinstance(shell, str) or len(shell) > 64 or not all(c.isalnum() or c == "_" for c in shell):
                raise ValueError("`shell` must be up to 64 letters, digits or _")
            return await self.executor.run(_require_id(request), name, request.get("input"), int(timeout_ms) if timeout_ms else None, shell)
        raise ValueError(f"unknown op {op!r}")

    async def _as_owner(self, owner: int, work: Callable[[], Any]) -> Any:
        """Runs file work off the event loop, as the sandbox user for a folder the agent owns (never as root there)."""
        pool = self.executor.tool_threads if owner != 0 else None
        return await asyncio.get_running_loop().run_in_executor(pool, work)

    async def _memory_scan(self, known: dict[str, dict[str, str]]) -> dict[str, Any]:
        reply = ScanReply(reply_bytes=self.memory.reply_content_bytes)
        stores = self.memory.open_stores()
        try:
            for slug, fd, owner in stores:
                await self._as_owner(owner, lambda fd=fd, slug=slug: self.memory.scan_store(fd, slug, known.get(slug, {}), reply))
        finally:
            for _, fd, _ in stores:
                os.close(fd)
        return reply.as_json()

    async def _memory_apply(self, writes: list[dict[str, Any]], deletes: list[dict[str, Any]]) -> dict[str, Any]:
        stores = self.memory.open_stores()
        by_slug = {slug: (fd, owner) for slug, fd, owner in stores}
        skipped = [{"store": c["store"], "path": c["path"]} for c in [*writes, *deletes] if c["store"] not in by_slug]
        try:
            for slug, (fd, owner) in by_slug.items():
                mine = ([w for w in writes if w["store"] == slug], [d for d in deletes if d["store"] == slug])
                if mine[0] or mine[1]:
                    skipped += await self._as_owner(owner, lambda fd=fd, mine=mine: self.memory.apply_store(fd, *mine))
        finally:
            for _, fd, _ in stores:
                os.close(fd)
        return {"skipped": skipped}

    async def _reply(
        self, writer: asyncio.StreamWriter, request_id: Any, *, result: Any = None, error_type: str = "", message: str = ""
    ) -> None:
        if error_type:
            reply = {"id": request_id, "ok": False, "error": {"type": error_type, "message": message}}
        else:
            reply = {"id": request_id, "ok": True, "result": result}
        try:
            writer.write(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")
            await writer.drain()
        except (ConnectionError, RuntimeError):
            pass


def _known_manifest(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in value.items()):
        raise ValueError("`known` must map store names to {path: sha256}")
    for paths in value.values():
        if not all(_is_text(p) and isinstance(h, str) for p, h in paths.items()):
            raise ValueError("`known` must map store names to {path: sha256}")
    return value


def _memory_changes(value: Any, *, content: bool) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError("`writes` and `deletes` must be lists")
    for change in value:
        if not isinstance(change, dict) or not _is_text(change.get("store")) or not _is_text(change.get("path")):
            raise ValueError("each change needs a `store` and a `path`")
        expect = change.get("expect_sha256")
        if not (isinstance(expect, str) or (content and expect is None)):
            raise ValueError("`expect_sha256` must be a sha256 (or null for a write to a new path)")
        if content and not _is_text(change.get("content")):
            raise ValueError("a write needs `content` (UTF-8 text)")
    return value


def _is_text(value: Any) -> bool:
    """A string that can be written as UTF-8. JSON can carry lone surrogates (`"\\ud800"`);
    a path with one, echoed back in a reply, would make the reply unencodable."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _require_id(request: dict[str, Any]) -> str:
    tool_use_id = request.get("tool_use_id")
    if not isinstance(tool_use_id, str) or not tool_use_id:
        raise ValueError("`tool_use_id` must be a non-empty string")
    return tool_use_id


async def serve(args: argparse.Namespace) -> None:
    configure_identity(uid=args.sandbox_uid, gid=args.sandbox_gid)
    executor = Executor(
        state_dir=args.state,
        workspace=args.workspace,
        output_limit=args.max_output_bytes,
        default_timeout_ms=args.default_timeout_ms,
    )
    server_handler = Server(executor, MemorySync(args.memory_root))
    # A socket left by a previous executor (a replaced container) would block the bind.
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    # Bound before the executor answers ping, so no tool runs before its proxy is there.
    relay = await start_relay(args.egress_port, args.egress_socket) if args.egress_port else None
    server = await asyncio.start_unix_server(server_handler.handle, path=args.socket, limit=MAX_LINE_BYTES)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    if executor.pid_guard_task is not None:
        executor.pid_guard_task.cancel()
    if relay is not None:
        relay.close()
    for bash, _ in executor.shells.values():
        await bash.kill()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Longhaul sandbox executor")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument("--state", required=True, help="folder for the per-call journal")
    parser.add_argument("--workspace", default="/workspace", help="root for relative paths and the shell's first cwd")
    parser.add_argument("--max-output-bytes", type=int, default=100_000, help="per-call output limit (head and tail kept)")
    parser.add_argument("--default-timeout-ms", type=int, default=120_000, help="when neither request nor input set one")
    parser.add_argument("--egress-port", type=int, default=0, help="relay 127.0.0.1:PORT to --egress-socket (0: none)")
    parser.add_argument("--egress-socket", default="", help="the worker's egress proxy socket")
    parser.add_argument("--memory-root", default="", help="folder of the memory stores' folders, root only (empty: none)")
    parser.add_argument("--sandbox-uid", type=int, default=1000, help="uid the tools run as (never root)")
    parser.add_argument("--sandbox-gid", type=int, default=1000, help="gid the tools run as (never root)")
    return parser.parse_args(argv)


def _rename_process() -> None:
    """Gives the executor its own process name, so an agent's `pkill python3` (which
    matches on the name) does not take the sandbox down with its own scripts."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_name = 15
        libc.prctl(pr_set_name, b"longhaul-exec", 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main() -> None:
    _rename_process()
    asyncio.run(serve(parse_args(sys.argv[1:])))


if __name__ == "__main__":
    main()
