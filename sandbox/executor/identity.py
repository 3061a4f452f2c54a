"""Who does what in the sandbox: the executor is root, the agent's tools are not.

The executor runs as container root with only CAP_SETUID, CAP_SETGID and CAP_KILL, so
nothing the agent runs can replace its socket, write its journal, signal it or read its
memory. Everything a tool does runs as the sandbox user:

- processes (the bash session, `rg`) are started with `subprocess_identity()`; the kernel
  clears every capability when a root process switches all its uids to non-zero;
- the in-process file tools run on threads from `sandbox_user_threads()`, whose
  filesystem uid and gid are the sandbox user's (setfsuid/setfsgid act on one thread
  only), so a symlink planted in /workspace cannot make them read or write as root.

Killing is by uid, not by walking a tree: `kill_sandbox_processes()` sends SIGKILL to
every process but init and the executor, which the kernel does atomically against
concurrent forks, and which needs no new process or thread (a fork bomb at the pid cap
leaves none to spare).
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)


class Identity:
    """The sandbox user's uid and gid, set once by the executor at start."""

    uid = 1000
    gid = 1000
    # Set by configure(): the executor is root directly under the container's init. Only
    # then may it switch users, and only then does "every process but init and me" mean
    # the sandbox's processes (never a host's).
    separated = False


class NotSeparatedError(RuntimeError):
    pass


def configure(*, uid: int, gid: int) -> None:
    """Sets the sandbox user and drops the executor's supplementary groups (root's).

    Refuses to go on unless the executor is root under the container's init: running the
    agent's tools as the executor's own uid would hand the agent the executor.
    """
    if os.getuid() != 0 or os.getppid() != 1:
        raise NotSeparatedError(
            f"the executor must run as root (uid {os.getuid()}) directly under the container's init (parent {os.getppid()})"
        )
    if uid == 0 or gid == 0:
        raise NotSeparatedError("the sandbox user must not be root")
    Identity.uid = uid
    Identity.gid = gid
    os.setgroups([])
    Identity.separated = True


def subprocess_identity() -> dict[str, Any]:
    """Keyword arguments for `subprocess`/`asyncio` process creation: run as the sandbox user."""
    _require_separated()
    return {"user": Identity.uid, "group": Identity.gid, "extra_groups": []}


def _require_separated() -> None:
    if not Identity.separated:
        raise NotSeparatedError("identity.configure() was not called")


def _thread_fs_ids() -> tuple[int, int]:
    """(fsuid, fsgid) of the calling thread, from the kernel."""
    fsuid = fsgid = -1
    with open(f"/proc/self/task/{threading.get_native_id()}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Uid:"):
                fsuid = int(line.split()[4])
            elif line.startswith("Gid:"):
                fsgid = int(line.split()[4])
    return fsuid, fsgid


def _become_sandbox_user_for_files() -> None:
    """Thread initializer: this thread's file access is the sandbox user's, or it dies."""
    _require_separated()
    # glibc's setfsuid/setfsgid are plain syscalls: they change this thread only.
    _libc.setfsgid(Identity.gid)
    _libc.setfsuid(Identity.uid)
    if _thread_fs_ids() != (Identity.uid, Identity.gid):
        # Fail closed: a file tool must never run with root's filesystem identity.
        raise PermissionError("could not switch the file-tool thread to the sandbox user")


def sandbox_user_threads(max_workers: int = 4) -> ThreadPoolExecutor:
    """A thread pool whose threads touch files as the sandbox user."""
    return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tool", initializer=_become_sandbox_user_for_files)


def kill_sandbox_processes(*, attempts: int = 50) -> int:
    """SIGKILLs every process in the container but init and the executor.

    Returns how many processes were still there after the last attempt (0 when all are
    gone). Each `kill(-1)` reaches every process that exists at that moment, and a fork
    racing it fails, so a bomb cannot outrun it; the loop only waits for the dead to be
    reaped and catches what a not-yet-killed parent started in between.
    """
    _require_separated()
    me = os.getpid()
    left = 0
    for attempt in range(attempts):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return 0
        left = len(_others(me))
        if left == 0:
            return 0
        time.sleep(0.001 if attempt < 10 else 0.02)
    return left


def kill_session_processes(sid: int, *, attempts: int = 50) -> int:
    """SIGKILLs every process of one session (a shell's: it is the session's leader).

    What left the session (setsid, a double fork into a new one) is not found here: a
    shell that shares the sandbox with others cannot tell those apart from theirs.
    Returns how many were still there after the last attempt.
    """
    left = 0
    for attempt in range(attempts):
        members = _session_members(sid)
        left = len(members)
        if left == 0:
            return 0
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.001 if attempt < 10 else 0.02)
    return left


def _session_members(sid: int) -> list[int]:
    """Live processes whose session is `sid`."""
    return [pid for pid, fields in _live_processes() if len(fields) > 3 and int(fields[3]) == sid]


def _others(me: int) -> list[int]:
    """Live processes other than init, the executor, and zombies waiting to be reaped."""
    return [pid for pid, _ in _live_processes() if pid not in (1, me)]


def _live_processes() -> list[tuple[int, list[bytes]]]:
    """Each process that is not a zombie, with its /proc stat fields after "pid (comm) ": state, ppid, pgrp, session, …"""
    found: list[tuple[int, list[bytes]]] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()
        if fields and fields[0] not in (b"Z", b"X"):
            found.append((int(entry), fields))
    return found
