"""The sandbox's one persistent bash session.

Commands reach bash through a private pipe, not its stdin, so a command that reads
stdin gets /dev/null instead of swallowing the commands that follow. Each command runs
through `eval` in the same shell, so `cd` and `export` persist. After it, the loop
prints a marker with a per-session random token and the exit status on stdout, in one
write, so the marker cannot interleave with a background job's output; everything
before the marker is the command's output (stdout and stderr, combined).

Bash runs as the sandbox user, in its own session and process group. A timeout, a cancel
or a restart kills every process the agent has in the sandbox (background jobs included,
and whatever escaped the shell's session with setsid or a double fork) and the next call
gets a fresh shell.
Output a background job prints between two calls belongs to neither and is dropped;
what it prints during a call shows up in that call's output, as in a terminal.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable

from identity import kill_sandbox_processes, kill_session_processes, subprocess_identity
from output import OutputBuffer, Outcome, error, outcome

_RESET_NOTE = "the shell was restarted, so its working directory and environment are reset"


class BashSession:
    def __init__(self, *, cwd: str, env: dict[str, str], alone: Callable[[], bool] = lambda: True) -> None:
        self.cwd = cwd
        self.env = env
        # Whether this is the sandbox's only shell: then a kill sweeps every process of the
        # agent; beside other shells (threads of a multi-agent session) only its own session's.
        self._alone = alone
        self._proc: asyncio.subprocess.Process | None = None
        self._commands: asyncio.WriteTransport | None = None
        self._pump: asyncio.Task[None] | None = None
        self._exited: asyncio.Future[int] | None = None
        self._marker = b""
        self._pending = bytearray()
        self._sink: OutputBuffer | None = None
        self._status: asyncio.Future[int] | None = None
        self._eof = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        # os.urandom is what `secrets` draws from; importing `secrets` (hmac, hashlib) costs every sandbox start ~5 ms.
        token = os.urandom(16).hex()
        # The marker is assembled by printf at run time, so it never appears whole in
        # bash's command line (which `ps` would print) or anywhere else a command can see.
        self._marker = f"\x1eLH:{token}:".encode()
        read_fd, write_fd = os.pipe()
        # The loop reads NUL-terminated commands from read_fd, which the commands
        # themselves do not inherit.
        boot = (
            # Under memory pressure the kernel should kill a command, not the executor.
            "{ builtin echo 500 > /proc/$$/oom_score_adj; } 2>/dev/null\n"
            f"while IFS= builtin read -r -d '' __longhaul_command <&{read_fd}; do\n"
            f'  builtin eval "$__longhaul_command" {read_fd}<&-\n'
            f"  builtin printf '\\036LH:%s:%d\\n' '{token}' \"$?\"\n"
            "done\n"
        )
        try:
            self._proc = await asyncio.create_subprocess_exec(
                "bash",
                "--noprofile",
                "--norc",
                "-c",
                boot,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                pass_fds=(read_fd,),
                start_new_session=True,
                cwd=self.cwd,
                **subprocess_identity(),
                env=self.env,
                limit=1 << 20,
            )
        finally:
            os.close(read_fd)
        transport, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(write_fd, "wb", 0))
        self._commands = transport  # type: ignore[assignment]
        self._pending = bytearray()
        self._eof = asyncio.Event()
        self._pump = asyncio.create_task(self._read_output(self._proc))
        self._exited = asyncio.ensure_future(self._proc.wait())

    async def _read_output(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            chunk = await proc.stdout.read(65536)
            if not chunk:
                break
            self._pending += chunk
            self._scan()
        if self._sink is not None:
            self._sink.write(bytes(self._pending))
        self._pending.clear()
        self._eof.set()

    def _scan(self) -> None:
        """Moves output to the current command's sink and resolves it at the marker."""
        marker = self._marker
        while True:
            index = self._pending.find(marker)
            if index < 0:
                # Hold back a possible partial marker at the end.
                keep = len(marker) - 1
                cut = max(0, len(self._pending) - keep)
                self._emit(cut)
                return
            newline = self._pending.find(b"\n", index + len(marker))
            if newline < 0:
                self._emit(index)
                return
            status_text = bytes(self._pending[index + len(marker) : newline])
            if not status_text.isdigit():
                # Not our marker after all: pass the bytes through as output.
                self._emit(index + len(marker))
                continue
            self._emit(index)
            del self._pending[: newline - index + 1]
            if self._status is not None and not self._status.done():
                self._status.set_result(int(status_text))
            # Output after the marker belongs to no command (a background job's).
            self._sink = None

    def _emit(self, length: int) -> None:
        if length <= 0:
            return
        if self._sink is not None:
            self._sink.write(bytes(self._pending[:length]))
        del self._pending[:length]

    async def kill(self) -> None:
        """Kills the shell and everything it started; the next call starts a new shell."""
        proc = self._proc
        self._proc = None
        if proc is None:
            return
        # Even when bash itself is gone its background jobs may live on, in its session
        # or out of it: every process of the agent goes, unless other shells share the
        # sandbox, whose processes are not this shell's to kill.
        if self._alone():
            kill_sandbox_processes()
        else:
            kill_session_processes(proc.pid)
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            pass
        if self._commands is not None:
            self._commands.close()
            self._commands = None
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        if self._status is not None and not self._status.done():
            self._status.cancel()
        self._status = None
        self._sink = None

    async def restart(self) -> None:
        await self.kill()
        await self._start()

    async def run(self, command: str, *, timeout_ms: int, cancelled: asyncio.Event, output_limit: int) -> Outcome:
        if self._proc is None or self._proc.returncode is not None:
            await self.kill()
            await self._start()
        assert self._commands is not None and self._exited is not None
        loop = asyncio.get_running_loop()
        sink = OutputBuffer(output_limit)
        status: asyncio.Future[int] = loop.create_future()
        self._sink = sink
        self._status = status
        self._commands.write(command.encode("utf-8") + b"\0")

        cancel_wait = asyncio.ensure_future(cancelled.wait())
        try:
            finished, _ = await asyncio.wait(
                {status, self._exited, cancel_wait},
                timeout=timeout_ms / 1000,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            cancel_wait.cancel()

        if status in finished:
            # The marker may arrive before bash's death is noticed; the status wins.
            code = status.result()
            text = sink.text()
            if code == 0:
                return {**outcome(text), "exit_code": 0}
            return {**error(_with_note(text, f"[exit code {code}]")), "exit_code": code}

        if self._exited in finished:
            exit_code = self._exited.result()
            try:
                await asyncio.wait_for(self._eof.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
            text = sink.text()
            await self.kill()
            note = f"[the shell exited with code {exit_code}; {_RESET_NOTE}]"
            return {**outcome(_with_note(text, note), is_error=exit_code != 0), "exit_code": exit_code}

        await self.kill()
        text = sink.text()
        if cancel_wait in finished or cancelled.is_set():
            note = f"[interrupted: the command was cancelled and killed with every process in the sandbox; {_RESET_NOTE}]"
        else:
            note = (
                f"[timed out after {timeout_ms} ms: the command was killed with every process "
                f"in the sandbox; {_RESET_NOTE}]"
            )
        return error(_with_note(text, note))


def _with_note(text: str, note: str) -> str:
    if not text:
        return note
    return text + ("" if text.endswith("\n") else "\n") + note


async def run_bash_tool(
    session: BashSession, tool_input: dict[str, Any], *, timeout_ms: int, cancelled: asyncio.Event, output_limit: int
) -> Outcome:
    command = tool_input.get("command")
    restart = tool_input.get("restart")
    input_timeout = tool_input.get("timeout_ms")
    if command is not None and not isinstance(command, str):
        return error("`command` must be a string")
    if restart is not None and not isinstance(restart, bool):
        return error("`restart` must be a boolean")
    if input_timeout is not None and (isinstance(input_timeout, bool) or not isinstance(input_timeout, (int, float))):
        return error("`timeout_ms` must be a number of milliseconds")
    if isinstance(command, str) and "\x00" in command:
        return error("`command` must not contain NUL characters")
    if input_timeout is not None and input_timeout > 0:
        timeout_ms = max(1, int(input_timeout))
    if restart:
        await session.restart()
        if not command:
            return outcome("The shell was restarted.")
    if not command:
        return error("`command` is required unless `restart` is true")
    return await session.run(command, timeout_ms=timeout_ms, cancelled=cancelled, output_limit=output_limit)
