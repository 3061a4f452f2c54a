"""Killing everything a shell started, found through /proc."""

from __future__ import annotations

import os
import signal


def _read_stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, pgrp, session) of a live process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    if len(fields) < 4 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[1]), int(fields[2]), int(fields[3])


def _members(root: int) -> set[int]:
    """The root's descendants plus every process in its process group or session."""
    stats: dict[int, tuple[int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read_stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    # The root is a session leader (started with setsid), so its own pid is its group
    # and session id; a process merely reusing the pid after the root died is not.
    found = {pid for pid, (_, pgrp, sid) in stats.items() if pgrp == root or sid == root}
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    found.discard(os.getpid())
    return found


def kill_process_tree(root: int) -> None:
    """SIGKILLs `root`, its descendants, and its process group and session.

    Everything is stopped first, until no new member appears, so that nothing can fork
    or be re-parented out of reach between the scan and the kill.
    """
    stopped: set[int] = set()
    for _ in range(20):
        fresh = _members(root) - stopped
        if not fresh:
            break
        for pid in fresh:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        stopped |= fresh
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(root, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
