"""The executor's record of every tool call, keyed by `tool_use_id`.

One JSON file per call in the state folder, which is a host folder bind-mounted into
the container: it outlives a client connection, a worker crash, the executor process
and the container itself. Each write goes to a temporary file that is fsynced and then
renamed over the record, and the folder is fsynced, so a reader sees either the old or
the new record, never a torn one, even after a power cut.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import Any

from output import Outcome

RECORD_VERSION = 1

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def record_file_name(tool_use_id: str) -> str:
    """A file name for the id; ids that are not plain tokens are hashed."""
    if _SAFE_ID.match(tool_use_id):
        return f"{tool_use_id}.json"
    return "h-" + hashlib.sha256(tool_use_id.encode("utf-8")).hexdigest() + ".json"


class Journal:
    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        # Whatever stands at the folder's name that is not a real folder (a link, a
        # file) is not ours: it goes, and is never followed.
        if os.path.islink(state_dir) or (os.path.lexists(state_dir) and not os.path.isdir(state_dir)):
            os.unlink(state_dir)
        os.makedirs(state_dir, exist_ok=True)

    def _path(self, tool_use_id: str) -> str:
        return os.path.join(self.state_dir, record_file_name(tool_use_id))

    def load(self, tool_use_id: str) -> dict[str, Any] | None:
        try:
            with open(self._path(tool_use_id), "rb") as f:
                record = json.loads(f.read())
        except FileNotFoundError:
            return None
        if not isinstance(record, dict) or record.get("tool_use_id") != tool_use_id:
            return None
        return record

    def mark_running(self, tool_use_id: str, name: str, boot_id: str) -> None:
        self._write(
            tool_use_id,
            {
                "v": RECORD_VERSION,
                "tool_use_id": tool_use_id,
                "name": name,
                "status": "running",
                "boot_id": boot_id,
                "started_at": time.time(),
            },
        )

    def mark_done(self, tool_use_id: str, name: str, boot_id: str, started_at: float, result: Outcome) -> None:
        self._write(
            tool_use_id,
            {
                "v": RECORD_VERSION,
                "tool_use_id": tool_use_id,
                "name": name,
                "status": "done",
                "boot_id": boot_id,
                "started_at": started_at,
                "finished_at": time.time(),
                "result": result,
            },
        )

    def _write(self, tool_use_id: str, record: dict[str, Any]) -> None:
        final = self._path(tool_use_id)
        temporary = f"{final}.{os.getpid()}.tmp"
        data = json.dumps(record, ensure_ascii=False).encode("utf-8")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, final)
        dir_fd = os.open(self.state_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
