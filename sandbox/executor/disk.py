"""Tells the agent, and the worker, when a tool call left the session's disk full.

/workspace and /mnt/session are folders of one quota'd file system (see the driver's
SessionDisks). When it is full, writes fail with "No space left on device" deep inside
whatever the agent ran; a result that says so plainly, with the quota, lets the agent
clean up instead of guessing, and `disk_full` in the outcome lets the worker report it as
a `session.error`.
"""

from __future__ import annotations

import os
from typing import Any

from output import Outcome

# Less than this free (or no inode left) is full: most writes fail already.
FULL_BELOW_BYTES = 1024 * 1024
# Tools that write; a read on a full disk is not the read's failure.
WRITING_TOOLS = ("bash", "write", "edit")


def disk_full(path: str) -> dict[str, int] | None:
    """`{"size_bytes", "free_bytes"}` of the file system under `path` when it is full, else None."""
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    free = stat.f_bavail * stat.f_frsize
    no_inodes = stat.f_files > 0 and stat.f_favail == 0
    if free >= FULL_BELOW_BYTES and not no_inodes:
        return None
    return {"size_bytes": stat.f_blocks * stat.f_frsize, "free_bytes": free}


def with_disk_full(result: Outcome, full: dict[str, int]) -> Outcome:
    """The result as an error with a note on the full disk appended, and `disk_full` set."""
    size_mib = full["size_bytes"] // (1024 * 1024)
    note = (
        f"[the session's disk is full: {full['free_bytes']} bytes free of {size_mib} MiB, shared by /workspace and "
        "/mnt/session. Writes fail with \"No space left on device\" until files are deleted.]"
    )
    content: list[dict[str, Any]] = list(result.get("content", []))
    content.append({"type": "text", "text": note})
    return {**result, "content": content, "is_error": True, "disk_full": full}
